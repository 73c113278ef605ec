"""`python -m sprintboard_backlog.entrypoints.asyncapi`: regenerate the committed AsyncAPI files."""

from sprintboard_backlog.entrypoints.asyncapi.spec import main

main()
