"""The live path's cost on NATS: what one nats-server spends per event for each way an instance can receive
live only the tenants it follows.

Why it is measured: in `scaleout`, tenant-affine interest routing on the consumer path (one ephemeral push
consumer per followed tenant, 1,000 on the stream) has NATS's three nodes at about twice the CPU of the run
whose four instances each read everything (four consumers), and its latency tail is the longer one. A
filtered consumer of an interleaved stream looks for its next message among the other tenants' ones, on
every delivery.

Each design runs on its own fresh nats-server (the wheel's) with `BACKLOG_TASKS` as `ensure_stream` makes
it (file storage), the stream first filled with `preload` events round-robin over the tenants (a live
stream is never empty), then `rate` events/s for `seconds`, round-robin over the tenants, on v2 subjects.
One subscriber connection holds the design's subscriptions; its plain callbacks count the events and
answer flow control. The figure: the server's CPU (user + system) from the first publish until every
event is counted, per published event; it includes storing the events, which every design pays.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.events import EventFactory, RoundRobin
from bench.ingest import PUBLISH_PENDING, cpu_times
from bench.procs import quiet
from bench.stats import spread

log = logging.getLogger("bench.livepath")
LIVE_PREFIX = "live"  # RePublish's destination: live.<the stored subject>
# design -> what it is, in run order.
DESIGNS = {
    "store-only": "no subscriber: what storing the events costs (BACKLOG_TASKS and its v1 copy), the base "
    "every design pays",
    "consumer-per-tenant": "an ephemeral push consumer per tenant, filtered to the tenant's v2 subjects, "
    "flow control and a 1 s idle heartbeat (the consumer path of interest routing)",
    "consumer-per-tenant-no-heartbeat": "the same without heartbeats and flow control",
    "one-consumer": "one push consumer of every event (NOTIFIER_FOLLOW=all, or an instance gone wide)",
    "republish": "RePublish of BACKLOG_TASKS to live.<subject>, one core subscription per tenant "
    "(Nats-Last-Sequence chains one subject, not one tenant)",
    "tenant-live-stream": "the republish path's BACKLOG_TASKS_LIVE (ensure_live_stream): a memory stream "
    "sourced from BACKLOG_TASKS with a subject transform to one subject per tenant (at most 1 message kept "
    "per subject) and RePublish, one core subscription per tenant (Nats-Last-Sequence then chains one "
    "tenant)",
}


class Counter:
    """Counts the events delivered to any of its subscriptions; answers flow-control requests."""

    def __init__(self, nc: Any) -> None:
        self.nc, self.events, self.controls = nc, 0, 0
        self.all_in = asyncio.Event()
        self.expected = 0

    async def on_msg(self, msg: Any) -> None:
        if msg.headers and msg.headers.get("Status"):  # heartbeat or flow control, no data
            self.controls += 1
            if msg.reply:
                await self.nc.publish(msg.reply, b"")
            return
        self.events += 1
        if self.expected and self.events >= self.expected:
            self.all_in.set()


async def _push_consumer(js: Any, nc: Any, counter: Counter, filter_subject: str, beats: bool) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from sprintboard_contracts.subjects import STREAM_NAME

    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=counter.on_msg)
    config = ConsumerConfig(
        deliver_subject=inbox,
        filter_subject=filter_subject,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.NONE,
        max_deliver=1,
        flow_control=beats,
        idle_heartbeat=1.0 if beats else None,
        mem_storage=True,
        num_replicas=1,
    )
    await js.add_consumer(STREAM_NAME, config)


async def _arrange(design: str, js: Any, sub_js: Any, nc: Any, counter: Counter, tenants: list[str]) -> None:
    """The design's subscriptions (and, for RePublish, the streams' configuration)."""
    from nats.js.api import RePublish

    from sprintboard_contracts.subjects import (
        ALL_TASK_EVENTS,
        ALL_V2,
        STREAM_NAME,
        filter_v2_for_tenant,
        live_subject,
    )
    from sprintboard_kit.stream import ensure_live_stream

    if design == "store-only":
        return
    if design.startswith("consumer-per-tenant"):
        beats = design == "consumer-per-tenant"
        for tenant in tenants:
            await _push_consumer(sub_js, nc, counter, filter_v2_for_tenant(tenant), beats)
    elif design == "one-consumer":
        await _push_consumer(sub_js, nc, counter, ALL_TASK_EVENTS, beats=True)
    elif design == "republish":
        config = (await js.stream_info(STREAM_NAME)).config
        config.republish = RePublish(src=ALL_V2, dest=f"{LIVE_PREFIX}.{ALL_V2}")
        await js.update_stream(config)
        for tenant in tenants:
            await nc.subscribe(f"{LIVE_PREFIX}.{filter_v2_for_tenant(tenant)}", cb=counter.on_msg)
    elif design == "tenant-live-stream":
        # The notifier's own live stream, as the republish path makes it (it sources from after the
        # stream's last event: the preload is never copied).
        await ensure_live_stream(js, await js.stream_info(STREAM_NAME))
        for tenant in tenants:
            await nc.subscribe(live_subject(tenant), cb=counter.on_msg)
    else:
        raise ValueError(f"no live-path design {design!r}")


async def run(design: str, tenant_count: int, rate: float, seconds: float, preload: int) -> dict[str, Any]:
    """One design on a fresh server: its NATS CPU per published event, and what reached the subscriber."""
    import nats

    from sprintboard_devstack.servers import EmbeddedNats
    from sprintboard_kit.stream import StreamSettings, ensure_stream

    server = await asyncio.to_thread(EmbeddedNats(name="bench-livepath").start)
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        nc = await nats.connect(server.url, name="bench-livepath-publisher")
        closers.append(nc.close)
        sub_nc = await nats.connect(
            server.url, name="bench-livepath-subscriber", pending_size=256 * 1024 * 1024
        )
        closers.append(sub_nc.close)
        js = nc.jetstream(publish_async_max_pending=PUBLISH_PENDING)
        await ensure_stream(js, StreamSettings())
        tenants = [EventFactory(tenant_id=f"livepath-{t:04d}") for t in range(tenant_count)]
        await RoundRobin(js, tenants, rate=1e9).run(count=preload)
        counter = Counter(sub_nc)
        t0 = time.monotonic()
        await _arrange(design, js, sub_nc.jetstream(), sub_nc, counter, [f.tenant_id for f in tenants])
        arranged_s = time.monotonic() - t0
        await sub_nc.flush()
        assert server.pid is not None
        # Interest propagated, the sourced streams caught up with the preload: the server idle.
        settled_s = await quiet(server.pid, below_pct=15.0, limit=60.0)
        events = max(1, round(rate * seconds / tenant_count)) * tenant_count
        counter.events, counter.controls = 0, 0
        counter.expected = 0 if design == "store-only" else events
        if not counter.expected:
            counter.all_in.set()
        cpu0, t0 = sum(cpu_times(server.pid)), time.monotonic()
        published_s = await RoundRobin(js, tenants, rate).run(count=events)
        try:
            await asyncio.wait_for(counter.all_in.wait(), timeout=max(10.0, seconds))
        except TimeoutError:
            log.warning("  livepath %s: %d of %d events arrived", design, counter.events, events)
        cpu, wall = sum(cpu_times(server.pid)) - cpu0, time.monotonic() - t0
        return {
            "design": DESIGNS[design],
            "tenants": tenant_count,
            "events": events,
            "published_s": round(published_s, 2),
            "delivered": counter.events,
            "control_messages": counter.controls,
            "arranged_s": round(arranged_s, 2),
            "settled_s": settled_s,
            "nats_cpu_s": round(cpu, 3),
            "nats_cpu_pct": round(100 * cpu / wall, 1),
            "nats_cpu_us_per_event": round(cpu * 1e6 / events, 1),
        }
    finally:
        for close in reversed(closers):
            await close()
        await asyncio.to_thread(server.cleanup)


async def measure(
    tenant_count: int,
    rate: float,
    seconds: float,
    preload: int,
    fewer_tenants: tuple[int, ...] = (),
    repeats: int = 1,
) -> dict[str, Any]:
    """Every design of DESIGNS, each on its own server, then `consumer-per-tenant` again with each of
    `fewer_tenants` (the same rate over fewer tenants: how its cost grows with the tenants); the whole
    round `repeats` times, so that the machine's drift falls on every case alike. Per case: the median
    [min, max] of the NATS CPU per event, and what it adds over the median of `store-only`."""
    cases = [(d, d, tenant_count) for d in DESIGNS] + [
        (f"consumer-per-tenant, {t:,} tenants", "consumer-per-tenant", t) for t in fewer_tenants
    ]
    done: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for round_ in range(1, repeats + 1):
        for label, design, tenants in cases:
            try:
                r = await run(design, tenants, rate, seconds, preload)
            except Exception as exc:  # the other designs still say something
                failed[label] = f"{type(exc).__name__}: {exc}"[:300]
                log.error("  livepath %s failed: %s", label, failed[label])
                continue
            done.setdefault(label, []).append(r)
            log.info(
                "  livepath %s (%d/%d): NATS %s µs/event (%s %%), %d of %d delivered",
                label,
                round_,
                repeats,
                r["nats_cpu_us_per_event"],
                r["nats_cpu_pct"],
                r["delivered"],
                r["events"],
            )
    runs = {label: _summed(rs) for label, rs in done.items()}
    base = runs.get("store-only", {}).get("nats_cpu_us_per_event", {}).get("median")
    for r in runs.values():
        us = r["nats_cpu_us_per_event"]["median"]
        r["added_us_per_event"] = round(us - base, 1) if base is not None and us is not None else None
    return {
        "tenants": tenant_count,
        "offered_events_per_s": rate,
        "seconds": seconds,
        "preload": preload,
        "repeats": repeats,
        "order": list(runs),  # the record's keys come back sorted
        "runs": runs,
        "failed": failed,
    }


def _summed(repeated: list[dict[str, Any]]) -> dict[str, Any]:
    """One case over its repeats: the figures as median [min, max], the counts summed."""
    first = repeated[0]
    return {
        "design": first["design"],
        "tenants": first["tenants"],
        "events": sum(r["events"] for r in repeated),
        "delivered": sum(r["delivered"] for r in repeated),
        "control_messages": sum(r["control_messages"] for r in repeated),
        "arranged_s": spread([r["arranged_s"] for r in repeated]),
        "nats_cpu_pct": spread([r["nats_cpu_pct"] for r in repeated]),
        "nats_cpu_us_per_event": spread([r["nats_cpu_us_per_event"] for r in repeated]),
        "each": repeated,
    }
