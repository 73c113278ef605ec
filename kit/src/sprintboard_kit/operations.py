"""The operations routes, one shape for every service: `/health/live`, `/health/ready`, `/metrics`.

Readiness runs the service's named checks at once (each an async callable that raises, or times out,
when its dependency is not ready) and answers `{"status": "ready"|"unavailable", "checks": {name:
"ok"|"error: <Exception>"}}`, 200 or 503. Metrics are the service's own registry (one per app, never the
process-global one, so several apps can share a process)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises (or times out) when its dependency is not ready."""

READY_TIMEOUT_SECONDS = 2.0


class NotReady(Exception):
    """What a check raises when its own state (not a connection) says the service is not ready yet."""


async def readiness(
    checks: Mapping[str, ReadinessCheck], timeout: float = READY_TIMEOUT_SECONDS
) -> tuple[bool, dict[str, str]]:
    """Whether every check passed, and each check's verdict by name."""
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(checks[name](), timeout) for name in names), return_exceptions=True
    )
    verdicts = {
        name: "ok" if not isinstance(result, BaseException) else f"error: {type(result).__name__}"
        for name, result in zip(names, results, strict=True)
    }
    return all(v == "ok" for v in verdicts.values()), verdicts


def operations_router(
    checks: Callable[[Request], Mapping[str, ReadinessCheck]],
    registry: CollectorRegistry,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> APIRouter:
    """The three routes; `checks(request)` gives the readiness checks at the time of the request (a
    service's lifespan may register them after the app is built)."""
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready", responses={503: {"description": "a dependency is not ready"}})
    async def ready(request: Request) -> JSONResponse:
        ok, verdicts = await readiness(checks(request), timeout)
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": verdicts}, status_code=200 if ok else 503
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
