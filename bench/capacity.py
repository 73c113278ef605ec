"""Capacity at saturation: the events/s one notifier keeps up with, each case driven past its limit.

The scale-out scenario's capacity figure is projected from CPU per event with no instance saturated (two
cores cannot saturate four notifiers and a NATS cluster at once). Here one notifier at a time is capped at
each of the plan's quotas of a core (a cgroup, `bench.machine.CpuQuota`) so that the publisher, NATS
and the load clients on the same machine can drive it past its limit; every case has the same cap, so
their saturated rates compare. The cases, on the scale-out scenario's tenants, sprints and sockets (one
sprint per tenant, its viewers), each with a fresh notifier:

- "one": a single instance holding every socket (it follows every tenant): what one instance can;
- "busiest": the sockets that tenant-affine placement puts on the busiest of `instances` notifiers (the
  rendezvous hash of the routing hint, as in the scale-out scenario), interest routing on the republish
  path: the instance that saturates first, so the cluster's limit;
- "busiest-reads-all": the same sockets on an instance that reads every event (`NOTIFIER_FOLLOW=all`):
  the cluster of today's design, where every instance reads all.

Events go round-robin over all the tenants, so an instance's share is its tenants' share. A step of
`step_seconds` keeps up when the notifier counted (during the step) at least KEPT_UP of the events it is
sent and the sampled sockets' publish -> read p99 stayed within LAG_LIMIT_MS; it falls short otherwise.
Before the steps: the notifier's CPU with its sockets open and no events (`idle_cpu_pct`: what holding
them costs, which weighs more under a small quota). The offered rate starts at 70 % of a rate projected
from a light first step, rises by `coarse` per step until one falls short, then again from the last kept
up by `factor` per step until one falls short (`ramp`); then `saturated_steps` steps at `past` x that rate.
Capacity: the highest published rate kept up with, and the median published rate absorbed (received /
share) in the steps that fell short. After each step the backlog drains (everything is delivered, or the
step says what was not) before the next starts.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil

from bench.clients import ClientPool
from bench.events import EventFactory, RoundRobin
from bench.fanout import busy_pct
from bench.ingest import COUNTER, cpu_times
from bench.machine import CpuQuota
from bench.metrics import scrape
from bench.plans import Plan
from bench.procs import Meter, quiet
from bench.scaleout import ClusterBed, Instance, _connect, affine
from bench.stats import spread, summary

log = logging.getLogger("bench.capacity")
KEPT_UP = 0.97  # of the offered events of its tenants counted within the step
LAG_LIMIT_MS = 500.0  # and the sampled publish -> socket p99 within this: it keeps up in real time
STARVED = 0.9  # of its cap: a notifier below this in a step that fell short was not what limited it
CALIBRATE_RECEIVED_PER_S = 150.0  # the light first step: events/s the notifier receives
DRAIN_LIMIT_S = 60.0
# label -> (the sockets: "all" or "busiest", how the instance reads: "republish" or "all")
CASES: dict[str, tuple[str, str]] = {
    "one": ("all", "republish"),
    "busiest": ("busiest", "republish"),
    "busiest-reads-all": ("busiest", "all"),
}


def busiest(tenants: list[EventFactory], instances: int) -> list[int]:
    """The tenant indexes that affine placement puts on its most loaded instance."""
    on: dict[int, list[int]] = {}
    for t, f in enumerate(tenants):
        on.setdefault(affine(f.tenant_id, instances), []).append(t)
    return max(on.values(), key=len)


def starved(step: dict[str, Any], cores: float) -> bool:
    """A step that fell short while the notifier ran below STARVED of its cap: the machine (the load
    generators, NATS) limited it, not the notifier, so it says nothing of the notifier's capacity."""
    return not step["kept_up"] and step["cpu_pct"] < STARVED * 100 * cores


def saturated(case: dict[str, Any], cores: float) -> bool:
    """Whether every step of the case that fell short was the notifier at its cap."""
    return not any(starved(s, cores) for s in case["steps"])


def judged(cases: dict[str, Any], cores: float) -> bool:
    """Whether a repeat's cases judge the target: `one` and `busiest` both ran, each limited by its cap."""
    return all(label in cases and saturated(cases[label], cores) for label in ("one", "busiest"))


def per_tenant(count: int, tenants: int) -> list[int]:
    """Events each tenant gets of `count` published round-robin from the first tenant."""
    return [count // tenants + (1 if t < count % tenants else 0) for t in range(tenants)]


async def idle(notifier: Instance, seconds: float) -> float:
    """The notifier's CPU in % of a core with its sockets open and no events: what holding them costs."""
    meter = Meter(notifier.pid)
    meter.start()
    await asyncio.sleep(seconds)
    return meter.read()["cpu_pct"]


async def _step(
    bed: ClusterBed,
    pool: ClientPool,
    notifier: Instance,
    quota: CpuQuota,
    tenants: list[EventFactory],
    sockets: list[tuple[int, int]],
    reads_all: bool,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Offer `rate` published events/s for `seconds`; what the notifier counted meanwhile; then drain."""
    count = max(len(tenants), round(rate * seconds))
    each = per_tenant(count, len(tenants))
    own = {t for t, _ in sockets}
    # The events the notifier is sent: every one when it reads all, else those of its sockets' tenants.
    offered = count if reads_all else sum(each[t] for t in own)
    await pool.reset(sample_limit=max(each) + 10, sample_sockets=min(len(sockets), 500))
    before, cpu0, throttled0 = await scrape(notifier.url), sum(cpu_times(notifier.pid)), quota.throttled()
    machine0, t0 = psutil.cpu_times(), time.monotonic()
    publisher = RoundRobin(bed.js, tenants, rate)
    sent_s = await publisher.run(count=count)
    at_end = await scrape(notifier.url)
    window = time.monotonic() - t0
    cpu, throttled = sum(cpu_times(notifier.pid)) - cpu0, quota.throttled()
    machine = busy_pct(machine0, psutil.cpu_times())
    await pool.wait(min(each), timeout=DRAIN_LIMIT_S)
    done = await pool.settle()  # the tenants with one event more
    drained_s = time.monotonic() - t0 - window
    lags, _, _ = await pool.samples()
    latency = summary(lags)
    counted = at_end.get(COUNTER, 0.0) - before.get(COUNTER, 0.0)
    periods = throttled["periods"] - throttled0["periods"]
    share = offered / count
    return {
        "offered_events_per_s": round(count / sent_s),  # as published (the window waits for a scrape)
        "events": count,
        "received_in_step": int(counted),
        "kept_up": counted >= KEPT_UP * offered and (latency.get("p99") or 0.0) <= LAG_LIMIT_MS,
        "received_per_s": round(counted / window),
        # What it absorbed, in published events/s (received / the share of the events it is sent).
        "absorbed_events_per_s": round(counted / share / window),
        "cpu_pct": round(100 * cpu / window, 1),
        "throttled_periods_pct": round(100 * (throttled["throttled"] - throttled0["throttled"]) / periods, 1)
        if periods
        else None,
        "machine_busy_pct": machine,
        "publisher_behind_ms": round(publisher.behind * 1000, 1),
        "published_s": round(sent_s, 2),
        "drained_after_s": round(drained_s, 2),
        "delivered": done["events"],
        "expected": sum(each[t] for t, _ in sockets),
        "latency_ms": latency,
    }


async def run_case(
    bed: ClusterBed, pool: ClientPool, tenants: list[EventFactory], label: str, plan: Plan, cores: float
) -> dict[str, Any]:
    """One case of CASES with a fresh notifier: connect, cap it at `cores`, calibrate, then the ramp."""
    which, follow = CASES[label]
    chosen = range(len(tenants)) if which == "all" else busiest(tenants, plan.scaleout_instances)
    tenant_share = len(chosen) / len(tenants)  # of the published events, those written to its sockets
    (notifier,) = await bed.start_notifiers(f"capacity-{label}", follow, count=1)
    steps: list[dict[str, Any]] = []
    try:
        sockets = [(t, 0) for t in chosen for _ in range(plan.scaleout_viewers)]
        await _connect(pool, [notifier], tenants, bed.secret, sockets)
        await quiet(notifier.pid, limit=20)
        with CpuQuota(cores) as quota:
            quota.add(notifier.pid)
            await quiet(notifier.pid, below_pct=10.0, limit=20)
            idle_pct = await idle(notifier, plan.capacity_step_seconds)
            light = CALIBRATE_RECEIVED_PER_S / tenant_share
            seconds, reads_all = plan.capacity_step_seconds, follow == "all"
            calibration = await _step(bed, pool, notifier, quota, tenants, sockets, reads_all, light, seconds)
            # CPU per published event at the light step: where one quota would be full, projected.
            us = calibration["cpu_pct"] * 1e4 / calibration["offered_events_per_s"]
            start = max(light, 0.7 * cores * 1e6 / us)

            async def offer(rate: float) -> bool:
                step = await _step(bed, pool, notifier, quota, tenants, sockets, reads_all, rate, seconds)
                steps.append(step)
                log.info(
                    "  capacity %s %.0f/s: received %s/s (%s), CPU %s%%, throttled %s%%, p99 %s ms",
                    label,
                    step["offered_events_per_s"],
                    step["received_per_s"],
                    "kept up" if step["kept_up"] else "short",
                    step["cpu_pct"],
                    step["throttled_periods_pct"],
                    step["latency_ms"].get("p99"),
                )
                return bool(step["kept_up"])

            _, hi = await ramp(offer, start, plan)
            for _ in range(plan.capacity_saturated_steps):  # past the limit: what it absorbs there
                await offer(hi * plan.capacity_past)
    finally:
        await pool.close()
        await bed.stop_notifiers()
    kept = [s["offered_events_per_s"] for s in steps if s["kept_up"]]
    absorbed = [s["absorbed_events_per_s"] for s in steps if not s["kept_up"]]
    return {
        "sockets": len(sockets),
        "tenants": len(chosen),
        "tenant_share": round(tenant_share, 4),
        "follow": follow,
        "idle_cpu_pct": idle_pct,
        "calibration": calibration,
        "steps": steps,
        "highest_kept_up_events_per_s": max(kept, default=None),
        "lowest_short_events_per_s": round(hi),
        # median [min, max] over the steps that fell short
        "saturated_absorbed": (
            {"median": round(statistics.median(absorbed)), "min": min(absorbed), "max": max(absorbed)}
            if absorbed
            else None
        ),
        "lost": sum(max(0, s["expected"] - s["delivered"]) for s in steps),
    }


async def ramp(offer: Callable[[float], Awaitable[bool]], start: float, plan: Plan) -> tuple[float, float]:
    """The highest rate kept up with (lo) and the lowest that fell short (hi): up by capacity_coarse per
    step from `start` until one falls short, then from lo up by capacity_factor until one does again."""
    lo, rate = 0.0, start
    for _ in range(plan.capacity_max_steps):
        if not await offer(rate):
            break
        lo, rate = rate, rate * plan.capacity_coarse
    hi = rate
    rate = lo * plan.capacity_factor
    while lo and rate < hi * 0.99:
        if not await offer(rate):
            hi = rate
            break
        lo, rate = rate, rate * plan.capacity_factor
    return lo, hi


def ratios(cases: dict[str, Any]) -> dict[str, Any]:
    """The busiest instance's saturated rate against one instance's and against the read-all design's:
    both sides measured at saturation under the same quota."""

    def kept_up(case: dict[str, Any]) -> float | None:
        return case.get("highest_kept_up_events_per_s")

    def absorbed(case: dict[str, Any]) -> float | None:
        return (case.get("saturated_absorbed") or {}).get("median")

    def ratio(value: Callable[[dict[str, Any]], float | None], a: str, b: str) -> float | None:
        x, y = value(cases.get(a, {})), value(cases.get(b, {}))
        return round(x / y, 2) if x and y else None

    out: dict[str, Any] = {}
    for name, value in (("kept_up", kept_up), ("absorbed", absorbed)):
        out[f"vs_one_{name}"] = ratio(value, "busiest", "one")
        out[f"vs_reads_all_{name}"] = ratio(value, "busiest", "busiest-reads-all")
    if "busiest" in cases:
        out["balance_bound"] = round(1 / cases["busiest"]["tenant_share"], 2)
    return out


def combined(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """A quota's repeats in one: per case the median [min, max] of its highest rate kept up with, and per
    ratio the median [min, max] of the repeats' own ratios (each repeat's cases ran back to back, so a
    ratio compares two runs of the same minutes); `judged`: the repeats where the machine limited
    neither `one` nor `busiest` (only those judge the target)."""
    labels = [label for label in CASES if any(label in r["cases"] for r in repeats)]
    judged = [r for r in repeats if r["judged"]]
    return {
        "kept_up": {
            label: spread([r["cases"].get(label, {}).get("highest_kept_up_events_per_s") for r in repeats])
            for label in labels
        },
        "ratios": {
            key: spread([r["ratios"].get(key) for r in judged])
            for key in ("vs_one_kept_up", "vs_one_absorbed", "vs_reads_all_kept_up", "vs_reads_all_absorbed")
        },
        "judged_repeats": len(judged),
        "lost": sum(c["lost"] for r in repeats for c in r["cases"].values()),
    }


async def measure(pool: ClientPool, plan: Plan) -> dict[str, Any]:
    """Every case of CASES under each of the plan's quotas, `capacity_repeats` times, on one single-node
    NATS (R1): NATS is not what is measured, and a cluster's replication would take the CPU that drives
    the notifier to its limit. Several quotas, because a quota is not a whole core: what the ratio does as
    the quota grows says how far it carries to one. Each repeat runs the cases back to back, in an order
    rotated by one per repeat, so that a drift of the machine over the minutes favours no case."""
    tenants = [EventFactory(tenant_id=f"scaleout-{t:04d}") for t in range(plan.scaleout_tenants)]
    bed = ClusterBed(1, nodes=1)
    quotas: dict[str, Any] = {}
    failed: dict[str, str] = {}
    t0 = time.monotonic()
    labels = list(CASES)
    try:
        await bed.start()
        for cores in plan.capacity_quotas:
            repeats: list[dict[str, Any]] = []
            for r in range(plan.capacity_repeats):
                cases: dict[str, Any] = {}
                for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                    try:
                        cases[label] = await run_case(bed, pool, tenants, label, plan, cores)
                    except Exception as exc:  # the other cases still say something
                        failed[f"{cores:g}/{label}/{r + 1}"] = f"{type(exc).__name__}: {exc}"[:300]
                        log.error(
                            "  capacity %s at %g cores (repeat %d) failed: %s", label, cores, r + 1, exc
                        )
                cases = {label: cases[label] for label in labels if label in cases}
                repeats.append({"cases": cases, "ratios": ratios(cases), "judged": judged(cases, cores)})
                log.info("  capacity at %g cores, repeat %d: %s", cores, r + 1, repeats[-1]["ratios"])
            quotas[f"{cores:g}"] = {"repeats": repeats, **combined(repeats)}
    finally:
        await bed.stop()
    return {
        "quotas_cores": list(plan.capacity_quotas),
        "repeats": plan.capacity_repeats,
        "tenants": plan.scaleout_tenants,
        "viewers_per_tenant": plan.scaleout_viewers,
        "instances": plan.scaleout_instances,
        "nats_nodes": 1,
        "stream_replicas": 1,
        "step_seconds": plan.capacity_step_seconds,
        "coarse": plan.capacity_coarse,
        "factor": plan.capacity_factor,
        "past": plan.capacity_past,
        "kept_up_fraction": KEPT_UP,
        "lag_limit_ms": LAG_LIMIT_MS,
        "by_quota": quotas,
        "failed": failed,
        "seconds": round(time.monotonic() - t0),
        "notifier_logs": str(bed.logs),
    }
