"""Ingest: what one notifier spends per consumed event (its CPU / events), against a bare nats-py floor.

As a new user would run it: its own NATS, one `python -m sprintboard_notifier` with default settings,
valid `ownership_taken` events over many tenants published into `BACKLOG_TASKS`, and
`notifier_events_received_total` polled until it has counted them all. The floors: a bare nats-py consumer
over the same stored events, then live with one socket per tenant (the notifier stopped), decoding only and
decoding plus one frame written per event (W, the bare cost of a write, is the difference). The reading
phases run last on a second bed: no sockets, then one socket per tenant reading its events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench.clients import ClientPool
from bench.events import EventFactory
from bench.metrics import scrape
from bench.procs import Child
from bench.servers.natsfloor import WRITE

log = logging.getLogger("bench.ingest")
COUNTER = "notifier_events_received_total"
PUBLISH_PENDING = 20_000
# The live floors (results["floor"] keys): decode_event only, and with one socket write per event.
LIVE_DECODE = "decode_event live"
WRITE_FLOOR = "decode_event+write live"
LIVE_FLOORS = {LIVE_DECODE: "decode_event", WRITE_FLOOR: WRITE}  # key: natsfloor's check


def tenants(count: int) -> list[EventFactory]:
    """One event factory (project, sprint, story, user) per tenant."""
    return [EventFactory(tenant_id=f"ingest-org-{i:04d}") for i in range(count)]


def bodies(ts: list[EventFactory], count: int) -> list[tuple[str, str, bytes]]:
    """(subject, event_id, JSON) of `count` fresh events, round-robin over the tenants."""
    return [(t.subject(), *t.build()) for t in (ts[i % len(ts)] for i in range(count))]


def socket_frames(secret: str, ts: list[EventFactory], matching: bool) -> list[list[str]]:
    """Auth and subscribe frames per tenant: to the tenant's sprint, or to a sprint no event names."""
    from sprintboard_kit.tokens import mint_dev_token

    frames = []
    for t in ts:
        token = mint_dev_token(
            secret, sub=f"user-{t.tenant_id}", name="Ingest", email=None, org_id=t.tenant_id
        )
        sprint = t.sprint_id if matching else uuid.uuid4()
        frames.append(
            [
                orjson.dumps({"type": "auth", "token": token}).decode(),
                orjson.dumps({"type": "subscribe", "sprint_id": str(sprint)}).decode(),
            ]
        )
    return frames


class Bed:
    """NATS and one notifier of our own, so that no other scenario's process shares the events."""

    def __init__(self) -> None:
        from sprintboard_devstack.servers import EmbeddedNats, free_port
        from sprintboard_devstack.stack import ServiceProcess

        self.secret = "ingest-bench-secret-" + uuid.uuid4().hex
        self.nats = EmbeddedNats()
        port = free_port()
        env = os.environ.copy()
        # The consume path of an instance that reads every event (with interest routing, an instance with
        # no sockets reads none); NOTIFIER_FOLLOW=interest in the environment measures interest routing.
        env.setdefault("NOTIFIER_FOLLOW", "all")
        env.update(
            NATS_URL=self.nats.url,
            SPRINTBOARD_JWT_SECRET=self.secret,
            NOTIFIER_PORT=str(port),
            NOTIFIER_INSTANCE_ID="ingest-bench",
        )
        self.logs = Path(tempfile.mkdtemp(prefix="sprintboard-ingest-"))
        self.env = env
        self.notifier = ServiceProcess(
            "sprintboard_notifier", "127.0.0.1", port, env, self.logs / "notifier.log"
        )
        self.others: list[Any] = []
        self.nc: Any = None
        self.js: Any = None

    async def start(self) -> None:
        import nats

        from sprintboard_kit.stream import ensure_stream

        await asyncio.to_thread(self.nats.start)
        self.nc = await nats.connect(self.nats.url, name="sprintboard-bench-ingest")
        self.js = self.nc.jetstream(publish_async_max_pending=PUBLISH_PENDING)
        await ensure_stream(self.js)
        await asyncio.to_thread(self.notifier.start)

    async def add_notifier(self, instance_id: str) -> Any:
        """Another notifier on the same NATS (its own port and instance id), started; stopped with the bed."""
        from sprintboard_devstack.servers import free_port
        from sprintboard_devstack.stack import ServiceProcess

        port = free_port()
        env = {**self.env, "NOTIFIER_PORT": str(port), "NOTIFIER_INSTANCE_ID": instance_id}
        log_file = self.logs / f"{instance_id}.log"
        other = ServiceProcess("sprintboard_notifier", "127.0.0.1", port, env, log_file)
        self.others.append(other)
        await asyncio.to_thread(other.start)
        return other

    @property
    def pid(self) -> int:
        assert self.notifier.proc is not None
        return self.notifier.proc.pid

    @property
    def ws_url(self) -> str:
        return self.notifier.url.replace("http://", "ws://") + "/api/v1/ws/tasks"

    async def last_seq(self) -> int:
        from sprintboard_contracts.subjects import STREAM_NAME

        return int((await self.js.stream_info(STREAM_NAME)).state.last_seq)

    async def stop(self) -> None:
        if self.nc is not None:
            await self.nc.close()
        for service in [self.notifier, *self.others]:
            await asyncio.to_thread(service.stop)
        await asyncio.to_thread(self.nats.cleanup)


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the process."""
    t = psutil.Process(pid).cpu_times()
    return float(t.user), float(t.system)


async def publish(bed: Bed, events: list[tuple[str, str, bytes]]) -> float:
    """Publish the events into the bed's stream (async, at most PUBLISH_PENDING in flight); seconds taken."""
    t0 = time.monotonic()
    for subject, event_id, body in events:
        await bed.js.publish_async(subject, body, headers={"Nats-Msg-Id": event_id})
    await asyncio.wait_for(bed.js.publish_async_completed(), 60)
    return time.monotonic() - t0


async def phase(bed: Bed, events: list[tuple[str, str, bytes]], sockets: int) -> dict[str, Any]:
    """Publish the events; the notifier's CPU from the first publish until it has counted them all."""
    n = len(events)
    counted0 = (await scrape(bed.notifier.url)).get(COUNTER, 0.0)
    first_seq = await bed.last_seq() + 1
    cpu0, t0 = cpu_times(bed.pid), time.monotonic()
    published = await publish(bed, events)
    deadline = t0 + 60 + n / 500
    counted = 0.0
    while time.monotonic() < deadline:
        counted = (await scrape(bed.notifier.url)).get(COUNTER, 0.0) - counted0
        if counted >= n:
            break
        await asyncio.sleep(0.05)
    wall, cpu1 = time.monotonic() - t0, cpu_times(bed.pid)
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    cpu = user + system
    if counted < n:
        raise RuntimeError(f"the notifier counted {counted:.0f} of {n} events in {wall:.0f} s")
    us = cpu * 1e6 / n
    return {
        "events": n,
        "sockets": sockets,
        "first_seq": first_seq,
        "cpu_us_per_event": round(us, 2),
        "events_per_core_s": round(1e6 / us),
        "kernel_share": round(system / cpu, 2) if cpu > 0 else 0.0,  # socket writes are mostly kernel time
        "published_s": round(published, 2),
        "consumed_s": round(wall, 2),
        "behind_s": round(wall - published, 2),
    }


async def floor(bed: Bed, from_seq: int, count: int) -> dict[str, Any]:
    """The bare nats-py ordered consumer over the same stored events: orjson only, and each contract check."""
    child = await Child.python("natsfloor", "bench.servers.natsfloor")
    try:
        out = {}
        for check in ("orjson", "decode_event", "parse_event"):
            cmd = {"nats_url": bed.nats.url, "from_seq": from_seq, "count": count, "check": check}
            out[check] = await child.call({"cmd": "consume", "timeout": 120, **cmd}, timeout=150)
        return out
    finally:
        await child.stop()


async def live_floors(bed: Bed, pool: ClientPool, ts: list[EventFactory], count: int) -> dict[str, Any]:
    """The floor consuming live while `count` fresh events are published as in a phase, with one socket per
    tenant connected to it: decode_event only, then decode_event and one frame written to the tenant's
    socket per event. The bed's notifier must be stopped (it would compete for the cores)."""
    child = await Child.python("natsfloor", "bench.servers.natsfloor")
    try:
        port = (await child.call({"cmd": "listen"}))["port"]
        opened = await pool.connect(f"ws://127.0.0.1:{port}/", len(ts), ready_frames=0)
        held = (await child.call({"cmd": "count"}))["connections"]
        if opened["open"] < len(ts) or held < len(ts):
            errors = opened["errors"]
            raise RuntimeError(f"{opened['open']} of {len(ts)} floor sockets opened, {held} held: {errors}")
        out = {}
        for key, check in LIVE_FLOORS.items():
            cmd = {"nats_url": bed.nats.url, "from_seq": await bed.last_seq() + 1, "count": count}
            call = {"cmd": "consume", "timeout": 60 + count / 500, "check": check, **cmd}
            consumed = asyncio.create_task(child.call(call, timeout=90 + count / 500))
            await asyncio.sleep(0.5)  # subscribed before the first publish, as the notifier is in a phase
            published = await publish(bed, bodies(ts, count))
            out[key] = {**await consumed, "sockets": held, "published_s": round(published, 2)}
        return out
    finally:
        try:
            await child.stop()
        finally:
            await pool.close()


async def run_phases(
    bed: Bed, pool: ClientPool, ts: list[EventFactory], count: int, phases: tuple[tuple[str, int, bool], ...]
) -> dict[str, Any]:
    """Each phase adds `sockets` sockets over the tenants (matching the events or not), then ingests."""
    out: dict[str, Any] = {}
    matching_sockets = 0
    for label, sockets, matching in phases:
        if sockets:
            opened = await pool.connect(
                bed.ws_url,
                sockets,
                ready_frames=2,
                first_frames_each=socket_frames(bed.secret, ts, matching),
            )
            if opened["open"] < sockets:
                raise RuntimeError(f"{opened['open']} of {sockets} sockets opened: {opened['errors']}")
            matching_sockets += sockets if matching else 0
        r = await phase(bed, bodies(ts, count), pool.count)
        # Events go round-robin over the tenants, socket i follows tenant i: frames written per event.
        r["writes_per_event"] = round(matching_sockets / len(ts), 2)
        out[label] = r
        log.info("  ingest %s (%d sockets): %.1f µs/event", label, pool.count, r["cpu_us_per_event"])
    return out


@asynccontextmanager
async def fresh_bed(pool: ClientPool) -> AsyncIterator[Bed]:
    """A started `Bed`; afterwards the pool's sockets are closed and the bed stopped."""
    bed = Bed()
    await bed.start()
    try:
        yield bed
    finally:
        try:
            await pool.close()
        finally:
            await bed.stop()


async def measure(
    pool: ClientPool,
    count: int,
    tenant_count: int,
    phases: tuple[tuple[str, int, bool], ...],
    reading_phases: tuple[tuple[str, int, bool], ...] = (),
) -> dict[str, Any]:
    """The phases on one bed, its floors (stored, then live with the write floor); then the reading phases
    on a fresh bed (its own NATS and notifier, none of the first bed's sockets)."""
    ts = tenants(tenant_count)
    # The JSON is written with sorted keys: `order` keeps the phases in the order they ran.
    results: dict[str, Any] = {"tenants": tenant_count, "phases": {}, "order": [p[0] for p in phases]}
    async with fresh_bed(pool) as bed:
        results["phases"] = await run_phases(bed, pool, ts, count, phases)
        first = next(iter(results["phases"].values()))
        results["floor"] = await floor(bed, first["first_seq"], count)
        log.info("  ingest floor: %s", {k: v["cpu_us_per_event"] for k, v in results["floor"].items()})
        await pool.close()
        await asyncio.to_thread(bed.notifier.stop)
        live = await live_floors(bed, pool, ts, count)
        results["floor"].update(live)
        results["write_us_per_event"] = round(
            live[WRITE_FLOOR]["cpu_us_per_event"] - live[LIVE_DECODE]["cpu_us_per_event"], 2
        )
        log.info("  ingest live floors: %s", {k: v["cpu_us_per_event"] for k, v in live.items()})
    if reading_phases:
        async with fresh_bed(pool) as bed:
            reading = await run_phases(bed, pool, ts, count, reading_phases)
            results["reading"] = {"phases": reading, "order": [p[0] for p in reading_phases]}
    return results
