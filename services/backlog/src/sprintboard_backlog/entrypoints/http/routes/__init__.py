"""Thin routers: parse, call a use case, shape the response."""

# Routers carry their full prefix themselves, so each route's `path` is the whole template (used by metrics).
API_PREFIX = "/api/v1"
