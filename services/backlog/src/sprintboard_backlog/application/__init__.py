"""Use cases: commands and queries over a unit of work; no framework, no SQL."""
