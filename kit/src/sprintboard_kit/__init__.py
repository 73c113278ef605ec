"""Sprintboard's runtime kit: what both services run the same way (settings, tokens, stream, logs, health)."""
