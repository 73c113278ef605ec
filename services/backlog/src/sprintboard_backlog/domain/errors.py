"""Domain errors: what a rule refused and why, mapped to HTTP statuses in one place at the edge."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request; `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(DomainError):
    """Missing, deleted, or another tenant's."""

    code = "not_found"


class Conflict(DomainError):
    """The current state forbids the change."""

    code = "conflict"


class Forbidden(DomainError):
    """The state allows it, but not for this caller."""

    code = "forbidden"


class ValidationFailed(DomainError):
    """A value is malformed or out of range."""

    code = "validation_failed"
