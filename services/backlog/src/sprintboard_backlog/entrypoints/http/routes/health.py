"""Liveness, readiness (database plus whatever the lifespan hooks registered) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from sprintboard_backlog.entrypoints.http.dependencies import Context

READY_TIMEOUT_SECONDS = 2.0

router = APIRouter(tags=["operations"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "a dependency is not ready"}})
async def ready(context: Context) -> JSONResponse:
    names = list(context.readiness_checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(context.readiness_checks[name](), READY_TIMEOUT_SECONDS) for name in names),
        return_exceptions=True,
    )
    checks = {
        name: "ok" if not isinstance(result, BaseException) else f"error: {type(result).__name__}"
        for name, result in zip(names, results, strict=True)
    }
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
