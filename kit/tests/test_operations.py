"""The operations routes: liveness, readiness in one shape, and the app's own metrics registry."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from sprintboard_kit.operations import NotReady, ReadinessCheck, operations_router


async def fine() -> None:
    return None


async def not_yet() -> None:
    raise NotReady("still starting")


async def hangs() -> None:
    await asyncio.Event().wait()


def app_with(checks: dict[str, ReadinessCheck], registry: CollectorRegistry, timeout: float = 2.0) -> FastAPI:
    app = FastAPI()
    app.include_router(operations_router(lambda _: checks, registry, timeout))
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kit") as client:
        return await client.get(path)


async def test_ready_when_every_check_passes() -> None:
    app = app_with({"database": fine}, CollectorRegistry())
    assert (await get(app, "/health/live")).json() == {"status": "ok"}
    ready = await get(app, "/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"database": "ok"}})


async def test_unavailable_names_each_failing_check() -> None:
    app = app_with({"database": fine, "nats": not_yet, "slow": hangs}, CollectorRegistry(), timeout=0.05)
    ready = await get(app, "/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "nats": "error: NotReady", "slow": "error: TimeoutError"},
    }


async def test_metrics_are_the_given_registry_only() -> None:
    registry = CollectorRegistry()
    Counter("kit_demo_things", "Things.", registry=registry).inc(3)
    text = (await get(app_with({}, registry), "/metrics")).text
    assert "kit_demo_things_total 3.0" in text
    assert "python_gc_objects_collected_total" not in text  # not the process-global registry
