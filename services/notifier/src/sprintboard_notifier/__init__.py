"""Sprintboard notifier service."""
