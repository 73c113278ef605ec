"""`python -m sprintboard_backlog`: serve the API (and, unless disabled, the outbox relay)."""

from sprintboard_backlog.entrypoints.http.__main__ import main

main()
