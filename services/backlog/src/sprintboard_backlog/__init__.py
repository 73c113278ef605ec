"""Sprintboard backlog service."""
