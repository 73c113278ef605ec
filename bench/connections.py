"""Connections: how many idle sockets one server process holds, and its RSS per socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bench.clients import ClientPool
from bench.procs import Meter
from bench.targets import Target

log = logging.getLogger("bench.connections")
HOLD_SECONDS = 2.0


async def measure(
    pool: ClientPool, start_target: Callable[[], Awaitable[Target]], total: int, step: int
) -> dict[str, Any]:
    """Connect in steps up to `total`, then hold; RSS growth per open socket at each step."""
    target = await start_target()
    meter = Meter(target.pid)
    steps: list[dict[str, Any]] = []
    try:
        await asyncio.sleep(0.5)
        rss0 = meter.rss()
        opened = 0
        errors: list[str] = []
        while opened < total:
            want = min(step, total - opened)
            conn = await pool.connect(target.url, want, target.first_frames, target.ready_frames, timeout=180)
            opened += want
            errors += conn["errors"]
            await asyncio.sleep(0.5)
            stats = await pool.stats()
            rss = meter.rss()
            steps.append(
                {
                    "attempted": opened,
                    "open": stats["open"],
                    "rss_mib": round(rss / 2**20, 1),
                    "kib_per_socket": round((rss - rss0) / max(1, stats["open"]) / 1024, 1),
                    "connect_seconds": round(conn["seconds"], 2),
                }
            )
            log.info(
                "  %s: %d open, %.1f KiB/socket", target.name, stats["open"], steps[-1]["kib_per_socket"]
            )
            if stats["open"] < opened * 0.99:
                break
        meter.start()
        await asyncio.sleep(HOLD_SECONDS)
        held = await pool.stats()
        rss = meter.rss()
        cpu_idle = meter.read()
    finally:
        await pool.close()
        await target.stop()
    return {
        "server": target.name,
        "attempted": opened,
        "held": held["open"],
        "closed": held["closed"],
        "close_reasons": held["close_reasons"],
        "errors": errors[:5],
        "rss_base_mib": round(rss0 / 2**20, 1),
        "rss_mib": round(rss / 2**20, 1),
        "kib_per_socket": round((rss - rss0) / max(1, held["open"]) / 1024, 1),
        "idle_cpu_pct": cpu_idle["cpu_pct"],
        "steps": steps,
    }
