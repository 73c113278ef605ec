"""The backlog's HTTP API."""

from sprintboard_backlog.entrypoints.http.app import create_app

__all__ = ["create_app"]
