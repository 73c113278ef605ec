"""The one place errors become HTTP: domain, auth, validation and routing errors, all in the envelope."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sprintboard_backlog.adapters.engine import is_database_unavailable
from sprintboard_backlog.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from sprintboard_backlog.entrypoints.http.observability import current_request_id

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    ValidationFailed: 422,
}
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_failed",
}
RETRY_AFTER_SECONDS = 2


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None
    timestamp: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """Every error response: `{"error": {"code", "message", "request_id", "timestamp", "details"?}}`."""

    error: ErrorBody


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


# Declared on every API route, so the OpenAPI document says what clients (and schema checks) will get.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _documented("no token, a bad signature or an expired token"),
    403: _documented("the caller is not the task's owner"),
    404: _documented("missing, deleted, or another tenant's"),
    409: _documented("the current state forbids it"),
    422: _documented("a malformed body, query or path value, or an out-of-range field"),
    503: _documented("the database is unreachable; retry later"),
}


class Unauthorized(Exception):
    """No token, or one that did not verify; `reason` is safe to show (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": current_request_id(),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=headers)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = next((s for kind, s in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)
    return error_response(status, exc.code, exc.message, exc.details)


async def _unauthorized(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthorized)
    return error_response(
        401,
        "unauthorized",
        f"authentication failed: {exc.reason}",
        {"reason": exc.reason},
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return error_response(422, "validation_failed", "the request is malformed or out of range", details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's only 400 is a body it cannot parse: a malformed body, which the API answers with 422.
        return error_response(422, "validation_failed", "the request body is not valid JSON")
    code = CODE_BY_STATUS.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    """An outage is 503 (retry later); any other driver error is a bug and stays a 500."""
    if not is_database_unavailable(exc):
        raise exc
    log.warning("database unavailable: %r", exc)
    return error_response(
        503,
        "service_unavailable",
        "the database is unavailable; retry later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for driver_error in (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, SQLAlchemyError):
        app.add_exception_handler(driver_error, _database_error)
