"""Sprintboard end-to-end test support."""
