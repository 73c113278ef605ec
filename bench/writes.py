"""Writes: take/start/pause/release through the backlog's HTTP API vs the same SQL via asyncpg; relay lag."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.latency import drain, outbox_lag, relay_lag
from bench.metrics import delta_quantile, scrape
from bench.mutations import Record, drive_http
from bench.sqlbase import drive_sql
from bench.stats import percentile, ratio

log = logging.getLogger("bench.writes")
NOTIFIER_LAG = "notifier_delivery_lag_seconds"
WAKE_CHANNEL = "sprintboard_outbox"  # the relay's LISTEN channel (sprintboard_backlog.adapters.relay)


def _numbers(record: Record, elapsed: float) -> dict[str, Any]:
    per_kind = {
        kind: {"n": len(v), "p50": _r(percentile(v, 50)), "p95": _r(percentile(v, 95))}
        for kind, v in record.latencies.items()
    }
    every = record.all_ms()
    return {
        "mutations": record.count,
        "per_s": round(record.count / max(elapsed, 1e-6), 1),
        "p50_ms": _r(percentile(every, 50)),
        "p95_ms": _r(percentile(every, 95)),
        "p99_ms": _r(percentile(every, 99)),
        "by_kind": per_kind,
        "failures": record.failures,
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


async def measure(
    backlog_url: str,
    dsn: str,
    token: str,
    tenant: str,
    user_id: uuid.UUID,
    task_ids: list[str],
    seconds: float,
    relay_metrics_url: str | None = None,
    notifier_url: str | None = None,
) -> dict[str, Any]:
    """Closed loop, one connection per task (= concurrency); HTTP first, then the SQL baseline.

    With `notifier_url` (and a socket on the board's sprint, opened by the caller) the notifier's
    delivery-lag histogram over the HTTP run says whether it keeps up with the writes."""
    await drain(dsn)
    metrics_url = relay_metrics_url or backlog_url  # the relay's metrics: its own process, or the backlog's
    before = await scrape(metrics_url)
    notifier_before = await scrape(notifier_url) if notifier_url else {}
    since = datetime.now(UTC)
    record, elapsed = await drive_http(backlog_url, [token], task_ids, seconds)
    after = await scrape(metrics_url)
    notifier_after = await scrape(notifier_url) if notifier_url else {}
    http = _numbers(record, elapsed)
    relay = relay_lag(before, after)
    relay["relayed_per_s"] = round(relay["relayed"] / max(elapsed, 1e-6), 1)
    relay["drain_seconds_after"] = await drain(dsn)
    relay["rows_ms"] = await outbox_lag(dsn, since, datetime.now(UTC))
    lag = delta_quantile(notifier_before, notifier_after, NOTIFIER_LAG, 0.99) if notifier_url else None
    relay["notifier_lag_ms_p99"] = None if lag is None else round(lag * 1000, 2)
    # The SQL baseline writes outbox rows as fast as the database takes them: the relay is checked at
    # that rate, not only at the (slower) API's.
    sql_before = await scrape(metrics_url)
    waking = asyncio.create_task(wake_relay(dsn))
    try:
        sql_record, sql_elapsed = await drive_sql(dsn, tenant, user_id, task_ids, seconds)
    finally:
        waking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waking
    sql_after = await scrape(metrics_url)
    sql = _numbers(sql_record, sql_elapsed)
    at_db = relay_lag(sql_before, sql_after)
    at_db["relayed_per_s"] = round(at_db["relayed"] / max(sql_elapsed, 1e-6), 1)
    at_db["drain_seconds_after"] = await drain(dsn)
    log.info(
        "  writes c=%d: HTTP %.0f/s p95 %s ms; SQL %.0f/s p95 %s ms; relay p99 %s ms; notifier lag p99 %s ms",
        len(task_ids),
        http["per_s"],
        http["p95_ms"],
        sql["per_s"],
        sql["p95_ms"],
        relay["relay_lag_ms_p99"],
        relay["notifier_lag_ms_p99"],
    )
    return {
        "concurrency": len(task_ids),
        "http": http,
        "sql": sql,
        "ratio_vs_sql": _r(ratio(http["per_s"], sql["per_s"])),
        "relay": relay,
        "relay_at_sql_rate": at_db,
        "database": await durability(dsn),
    }


async def wake_relay(dsn: str) -> None:
    """NOTIFY the relay back to back, as the API's coalesced wake-up does after its commits."""
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            await conn.execute(f"NOTIFY {WAKE_CHANNEL}")
            await asyncio.sleep(0.001)
    finally:
        await conn.close()


async def durability(dsn: str) -> dict[str, str]:
    """The settings that decide whether a commit waits for the disk, as the server reports them."""
    conn = await asyncpg.connect(dsn)
    try:
        return {k: str(await conn.fetchval(f"SHOW {k}")) for k in DURABILITY}
    finally:
        await conn.close()


DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")
