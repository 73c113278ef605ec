"""The backlog's domain: aggregates, their rules and the events they record; no I/O."""
