"""The web board: static pages served by the backlog, and the router that serves them."""

from sprintboard_backlog.entrypoints.web.routes import web_router

__all__ = ["web_router"]
