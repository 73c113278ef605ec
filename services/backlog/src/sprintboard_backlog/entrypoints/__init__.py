"""Entry points: the HTTP API, the outbox relay, the demo seed."""
