"""The outbox relay: one leader publishes committed outbox rows to JetStream in order, then marks them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sprintboard_backlog.adapters.nats_publisher import JetStreamPublisher, OutgoingMessage
from sprintboard_backlog.adapters.outbox import publish_subject
from sprintboard_kit.stream import UnsupportedServer

log = logging.getLogger(__name__)

WAKE_CHANNEL = "sprintboard_outbox"
# One leader across every backlog instance on the database; any fixed 64-bit key will do.
LEADER_LOCK_KEY = 0x5B0A_7D0C_0717_0001


class RelayMetrics:
    """What the relay counts, in the registry of the process serving them (the API's, or the standalone
    relay's metrics port)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.published = Counter(
            "sprintboard_relay_published_total", "Outbox events published to JetStream and acked.", registry=r
        )
        self.failures = Counter(
            "sprintboard_relay_failures_total", "Relay batches that failed and will be retried.", registry=r
        )
        self.pending = Gauge(
            "sprintboard_outbox_pending", "Outbox rows committed but not yet published.", registry=r
        )
        self.leader = Gauge(
            "sprintboard_relay_is_leader", "1 while this process holds the relay leadership.", registry=r
        )
        self.lag = Histogram(
            "sprintboard_relay_lag_seconds",
            "From the outbox row's insert (its transaction) to the JetStream ack.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )


# Rows acked but still being marked ($2) are left out: they are published, only not yet on record.
_FETCH = """
SELECT id, event_id, task_id, subject, payload, created_at
FROM outbox WHERE published_at IS NULL AND NOT (id = ANY($2::bigint[])) ORDER BY id LIMIT $1
"""
_MARK = "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])"
_COUNT_PENDING = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
_PURGE = "DELETE FROM outbox WHERE published_at < clock_timestamp() - make_interval(secs => $1)"


def first_row_per_task(rows: Sequence[Any]) -> list[Any]:
    """Keep each task's oldest pending row only: a later version waits until the earlier one is acked.

    Within one batch every task then appears once, so no reordering on the wire (a reconnect in the
    middle of a batch, say) can ever store a task's version n+1 before version n.
    """
    seen: set[Any] = set()
    picked = []
    for row in rows:
        if row["task_id"] not in seen:
            seen.add(row["task_id"])
            picked.append(row)
    return picked


class OutboxRelay:
    """Drains the outbox into JetStream. Wakes on an in-process signal, on NOTIFY from other instances,
    and polls as a fallback; writers never pay for a NOTIFY inside their transaction."""

    def __init__(
        self,
        dsn: str,
        publisher: JetStreamPublisher,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 5.0,
        retention_seconds: float = 3600.0,
        lock_timeout: float = 5.0,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self._dsn = dsn
        self._metrics = metrics or RelayMetrics()
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._retention_seconds = retention_seconds
        self._lock_timeout = lock_timeout
        self._wake = asyncio.Event()
        self._waker = OutboxWaker(dsn, retry_interval=poll_interval)
        self._is_leader = False
        self._running = False
        self._last_purge = 0.0
        # The mark of the last acked batch, running on its own connection while the next batch is fetched
        # and published: marking is bookkeeping, and an event committed meanwhile should not wait for it.
        self._marking: asyncio.Task[object] | None = None
        self._marking_ids: list[int] = []

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def running(self) -> bool:
        return self._running

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows. Cheap: a flag, plus one coalesced NOTIFY when
        the leader is another process."""
        self._wake.set()
        if not self._is_leader:
            self._waker.wake()

    async def run(self) -> None:
        """Run until cancelled: lead when the lock is free, otherwise stand by; survive any outage."""
        self._running = True
        notifier = asyncio.create_task(self._waker.run(), name="outbox-notify")
        backoff = 0.1
        try:
            while True:
                try:
                    await self._lead()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database or NATS outage: wait, then try again
                    self._metrics.failures.inc()
                    # A too old NATS is a deployment error, not an outage: say so loudly (and keep trying).
                    level = logging.ERROR if isinstance(exc, UnsupportedServer) else logging.WARNING
                    log.log(level, "outbox relay interrupted, retrying in %.1fs: %r", backoff, exc)
                    self._set_leader(False)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                else:
                    backoff = 0.1
        finally:
            self._running = False
            self._set_leader(False)
            notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await notifier
            await self._publisher.close()

    def _set_leader(self, value: bool) -> None:
        self._is_leader = value
        self._metrics.leader.set(1 if value else 0)

    async def _lead(self) -> None:
        # The lock lives as long as the session, and only a round trip shows the session is alive. Every
        # statement is bounded: behind a partition the server ends the session (and another relay takes
        # the lock) while this side hears nothing, and an unbounded wait would be a leader forever.
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn, timeout=self._lock_timeout, command_timeout=self._lock_timeout
        )
        marker: asyncpg.Connection | None = None
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY):
                await asyncio.sleep(self._poll_interval)
            self._set_leader(True)
            log.info("outbox relay is the leader")
            await conn.add_listener(WAKE_CHANNEL, self._on_notify)
            await self._publisher.connect()
            marker = await asyncpg.connect(
                self._dsn, timeout=self._lock_timeout, command_timeout=self._lock_timeout
            )
            while True:
                self._wake.clear()
                published = await self.drain_once(conn, marker)
                if published:
                    continue  # more may be waiting: no sleep while there is work
                await self._housekeeping(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        finally:
            if self._is_leader:
                log.warning("outbox relay is no longer the leader")
            self._set_leader(False)
            marking, self._marking, self._marking_ids = self._marking, None, []
            if marking is not None:
                # Acked, maybe not marked: the next leader sends them again and JetStream drops the copies.
                marking.cancel()
                if marking.done() and not marking.cancelled():
                    marking.exception()  # retrieved: the failure that ended the lead is already on its way
            # Never a polite close: on a connection that stopped answering it would wait for nothing.
            conn.terminate()
            if marker is not None:
                marker.terminate()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def drain_once(self, conn: asyncpg.Connection, marker: asyncpg.Connection | None = None) -> int:
        """Publish one batch and mark it; return how many rows were published.

        With `marker` (a second connection) the mark runs while the next batch is fetched and published,
        so the publish of what was committed meanwhile never waits for it; at most one mark is in flight,
        and its failure surfaces at the next call. Order holds: a row is fetched only after every earlier
        row of its task was acked (`first_row_per_task`, and the rows being marked are left out)."""
        rows = first_row_per_task(await conn.fetch(_FETCH, self._batch_size, self._marking_ids))
        if not rows:
            await self._marked()
            self._metrics.pending.set(0)
            return 0
        await self._publisher.publish_batch(
            [
                OutgoingMessage(
                    str(r["event_id"]), publish_subject(r["subject"], r["payload"]), r["payload"].encode()
                )
                for r in rows
            ]
        )
        acked_at = datetime.now(UTC)
        await self._marked()
        ids = [r["id"] for r in rows]
        if marker is None:
            await conn.execute(_MARK, ids)
        else:
            self._marking, self._marking_ids = asyncio.create_task(marker.execute(_MARK, ids)), ids
        self._metrics.published.inc(len(rows))
        for r in rows:
            self._metrics.lag.observe(max(0.0, (acked_at - r["created_at"]).total_seconds()))
        return len(rows)

    async def _marked(self) -> None:
        """Wait for the mark in flight, if any (raising what it raised)."""
        marking, self._marking = self._marking, None
        if marking is not None:
            try:
                await marking
            finally:
                self._marking_ids = []

    async def _housekeeping(self, conn: asyncpg.Connection) -> None:
        self._metrics.pending.set(await conn.fetchval(_COUNT_PENDING))
        now = time.monotonic()
        if now - self._last_purge > 60:
            self._last_purge = now
            # A large purge may outlast the lock timeout without the session being lost.
            await conn.execute(_PURGE, self._retention_seconds, timeout=max(60.0, self._lock_timeout))


class OutboxWaker:
    """Wakes the relay leader when it runs in another process (another backlog instance, or the relay
    entry point): after commits that wrote outbox rows, one NOTIFY on a connection of its own, outside
    the writers' transactions, and at most one in flight however many commits asked (they coalesce)."""

    def __init__(self, dsn: str, retry_interval: float = 1.0) -> None:
        self._dsn = dsn
        self._retry_interval = retry_interval
        self._pending = asyncio.Event()

    def wake(self) -> None:
        self._pending.set()

    async def run(self) -> None:
        """Send NOTIFYs until cancelled; a failed one is only logged (the leader's poll still delivers)."""
        conn: asyncpg.Connection | None = None
        try:
            while True:
                await self._pending.wait()
                self._pending.clear()
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self._dsn)
                    await conn.execute(f"NOTIFY {WAKE_CHANNEL}")
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("outbox NOTIFY failed: %r", exc)
                    conn = None
                    await asyncio.sleep(self._retry_interval)
        finally:
            if conn is not None:
                conn.terminate()
