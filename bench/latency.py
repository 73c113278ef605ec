"""End-to-end latency (HTTP response → WebSocket frame) and relay lag (commit → JetStream ack)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.clients import ClientPool
from bench.metrics import delta, delta_quantile, scrape
from bench.mutations import drive_http
from bench.procs import quiet
from bench.stats import summary

log = logging.getLogger("bench.latency")
RELAY_LAG = "sprintboard_relay_lag_seconds"


async def drain(dsn: str, timeout: float = 60.0) -> float | None:
    """Seconds until no outbox row is left unpublished (None if that takes longer than `timeout`)."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() - started < timeout:
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                return round(time.monotonic() - started, 2)
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return None


async def outbox_lag(dsn: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Per outbox row written in the window: insert → marked published (which follows the JetStream ack)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM outbox"
            " WHERE created_at BETWEEN $1 AND $2 AND published_at IS NOT NULL",
            since,
            until,
        )
    finally:
        await conn.close()
    return summary([float(r["ms"]) for r in rows])


def relay_lag(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Quantiles of the relay's own histogram between two scrapes, in ms (bucket-interpolated)."""
    p50 = delta_quantile(before, after, RELAY_LAG, 0.50)
    p99 = delta_quantile(before, after, RELAY_LAG, 0.99)
    return {
        "relay_lag_ms_p50": None if p50 is None else round(p50 * 1000, 2),
        "relay_lag_ms_p99": None if p99 is None else round(p99 * 1000, 2),
        "relayed": int(delta(before, after, f"{RELAY_LAG}_count")),
        "outbox_pending_after": after.get("sprintboard_outbox_pending"),
    }


async def e2e(
    pool: ClientPool,
    ws_url: str,
    first_frames: list[str],
    backlog_url: str,
    dsn: str,
    tokens: list[str],
    task_ids: list[str],
    sockets: int,
    rate: float,
    seconds: float,
    notifier_pid: int,
    settle: float = 15.0,
    relay_metrics_url: str | None = None,
) -> dict[str, Any]:
    """`sockets` subscribed to the board's sprint; mutations at `rate`/s; latency per sampled socket."""
    metrics_url = relay_metrics_url or backlog_url  # the relay's metrics: its own process, or the backlog's
    backlog_before = await drain(dsn)
    busy_before = await quiet(notifier_pid, limit=settle)  # still sending a previous run's backlog?
    conn = await pool.connect(ws_url, sockets, first_frames, ready_frames=2)
    try:
        await pool.reset(sample_limit=int(rate * seconds * 2) + 100)
        before = await scrape(metrics_url)
        since = datetime.now(UTC)
        record, elapsed = await drive_http(backlog_url, tokens, task_ids, seconds, rate)
        drained = await drain(dsn, timeout=30.0)
        rows = await outbox_lag(dsn, since, datetime.now(UTC))
        # From the stream through the notifier to the sockets; a notifier far behind is cut off here.
        await pool.settle(quiet=0.5, limit=settle)
        after = await scrape(metrics_url)
        _, arrivals, sampled = await pool.samples(arrivals=True)
        stats = await pool.stats()
    finally:
        await pool.close()
    latencies = [(t - record.responded[k]) * 1000 for k, t in arrivals if k in record.responded]
    # Both ends read the same clock (CLOCK_REALTIME, one host). Below zero is real, not an error: the relay
    # publishes once the transaction commits, while the response still travels to this process's loop,
    # so a frame can be read before the headers of its response. Counted and kept in the percentiles.
    negative = sum(1 for v in latencies if v < 0)
    result = {
        "sockets": sockets,
        "sockets_open": conn["open"],
        "offered_per_s": rate,
        "mutations": record.count,
        "mutations_per_s": round(record.count / elapsed, 1),
        "http_ms": summary(record.all_ms()),
        "e2e_ms": summary(latencies),
        "matched_frames": len(latencies),
        "negative_latencies": negative,
        # Mutations and frames apart: each answered mutation is one frame at each sampled socket.
        "answered_mutations": len(record.responded),
        "sampled_sockets": sampled,
        # Fewer than expected: the slowest frames had not arrived when measuring stopped (p99 is a floor).
        "expected_frames": len(record.responded) * sampled,
        "relay_rows_ms": rows,
        "failures": record.failures,
        "sockets_closed": stats["closed"],
        "outbox_drain_before_s": backlog_before,
        "notifier_busy_before_s": busy_before,
        "outbox_drain_after_s": drained,
        **relay_lag(before, after),
    }
    log.info(
        "  e2e %d sockets at %.0f/s: p50 %s p99 %s ms (%d frames)",
        sockets,
        rate,
        result["e2e_ms"]["p50"],
        result["e2e_ms"]["p99"],
        len(latencies),
    )
    return result
