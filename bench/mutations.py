"""Mutation drivers: take → start → pause → release cycles, over HTTP or as the same SQL through asyncpg."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.httpload import HttpConnection

API = "/api/v1/tasks"
# (kind, method, path suffix, body): each leaves the task where the next one expects it.
CYCLE: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
    ("take", "PUT", "ownership", None),
    ("start", "POST", "work/start", None),
    ("pause", "PATCH", "status", {"status": "owned"}),
    ("release", "DELETE", "ownership", None),
)


@dataclass
class Record:
    """What the mutations left behind: latency per kind, failures, when each task version was answered."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    responded: dict[str, float] = field(
        default_factory=dict
    )  # "task_id:version" -> wall time the response's headers arrived

    def ok(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds * 1000)

    def fail(self, why: str) -> None:
        self.failures[why] = self.failures.get(why, 0) + 1

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def all_ms(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def _version(data: Any) -> int | None:
    task = data.get("task", data) if isinstance(data, dict) else None
    return task.get("version") if isinstance(task, dict) else None


async def http_cycles(
    conn: HttpConnection, task_id: str, until: float, period: float, record: Record, offset: float = 0.0
) -> None:
    """Cycles on one task until `until` (monotonic); with `period` > 0, one mutation per period."""
    due = time.monotonic() + offset
    while time.monotonic() < until:
        for kind, method, suffix, body in CYCLE:
            if period > 0:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due += period
            try:
                status, data, seconds = await conn.request(method, f"{API}/{task_id}/{suffix}", body)
            except (OSError, asyncio.IncompleteReadError) as exc:
                record.fail(f"{kind}: {type(exc).__name__}")
                await asyncio.sleep(0.05)
                break
            if status != 200:
                record.fail(f"{kind}: {status}")
                await _recover(conn, task_id)
                break
            record.ok(kind, seconds)
            version = _version(data)
            if version is not None:
                record.responded[f"{task_id}:{version}"] = conn.headers_at


async def _recover(conn: HttpConnection, task_id: str) -> None:
    """After a refusal, put the task back to `available` whatever state it was left in."""
    for method, suffix, body in (("PATCH", "status", {"status": "owned"}), ("DELETE", "ownership", None)):
        try:
            await conn.request(method, f"{API}/{task_id}/{suffix}", body)
        except (OSError, asyncio.IncompleteReadError):
            return


async def drive_http(
    base_url: str, tokens: list[str], task_ids: list[str], seconds: float, rate: float = 0.0
) -> tuple[Record, float]:
    """One keep-alive connection per task; `rate` mutations/s overall (0: closed loop, as fast as it goes)."""
    record = Record()
    conns = [HttpConnection(base_url, tokens[i % len(tokens)]) for i in range(len(task_ids))]
    period = len(task_ids) / rate if rate > 0 else 0.0
    started = time.monotonic()
    until = started + seconds
    try:
        await asyncio.gather(
            *(
                http_cycles(c, t, until, period, record, offset=i * period / len(task_ids))
                for i, (c, t) in enumerate(zip(conns, task_ids, strict=True))
            )
        )
    finally:
        for c in conns:
            c.close()
    return record, time.monotonic() - started
