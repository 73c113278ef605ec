"""Many tenants: 10,000 sockets in 1,000 sprints of 10 viewers over 100 tenants, events spread over all.

The shape of a real deployment (the one-sprint fan-out ladder stays as the stress case): its own NATS and
one `python -m sprintboard_notifier` with default settings (`ingest.Bed`); events published into
`BACKLOG_TASKS` round-robin over every sprint at a fixed rate; per rate the publish → socket-read latency
of sampled sockets, the notifier's CPU and the deliveries/s the clients counted.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from bench.clients import ClientPool
from bench.events import EventFactory, RoundRobin
from bench.ingest import Bed, socket_frames
from bench.procs import Meter, quiet
from bench.stats import summary

log = logging.getLogger("bench.tenants")


def sprints(tenant_count: int, per_tenant: int) -> list[EventFactory]:
    """One event factory per sprint; the sprints of a tenant share its project."""
    out = []
    for t in range(tenant_count):
        project = uuid.uuid4()
        out += [EventFactory(tenant_id=f"tenant-{t:04d}", project_id=project) for _ in range(per_tenant)]
    return out


async def at_rate(
    bed: Bed, pool: ClientPool, factories: list[EventFactory], rate: float, seconds: float, sampled: int
) -> dict[str, Any]:
    rounds = max(1, round(rate * seconds / len(factories)))  # every sprint gets the same number of events
    events = rounds * len(factories)
    await quiet(bed.pid, limit=10)
    await pool.reset(sample_limit=rounds + 10, sample_sockets=sampled)
    meter = Meter(bed.pid)
    meter.start()
    t0 = time.time()
    publisher = RoundRobin(bed.js, factories, rate)
    seconds_sent = await publisher.run(count=events)
    done = await pool.wait(rounds, timeout=max(10.0, 2 * seconds))
    server = meter.read()
    lags, _, sampled_open = await pool.samples()
    elapsed = max(seconds_sent, (done["last_at"] or time.time()) - t0)
    result = {
        "offered_events_per_s": rate,
        "events": events,
        "events_per_sprint": rounds,
        "delivered": done["events"],
        "expected": rounds * done["open"],
        "deliveries_per_s": round(done["events"] / elapsed),
        "latency_ms": summary(lags),
        "negative_latencies": sum(1 for v in lags if v < 0),
        "sampled_sockets": sampled_open,
        "notifier_cpu_pct": server["cpu_pct"],
        "notifier_kernel_share": server["kernel_share"],
        "notifier_rss_mib": server["rss_mib"],
        "busiest_client_cpu_pct": pool.busiest_cpu(),
        "publisher_behind_ms": round(publisher.behind * 1000, 1),
        "sockets_open": done["open"],
        "sockets_closed": done["closed"],
    }
    log.info(
        "  tenants %.0f events/s: p50 %s p99 %s ms, notifier %s%% CPU, %d deliveries/s",
        rate,
        result["latency_ms"]["p50"],
        result["latency_ms"]["p99"],
        server["cpu_pct"],
        result["deliveries_per_s"],
    )
    return result


async def measure(
    pool: ClientPool,
    tenant_count: int,
    sprints_per_tenant: int,
    viewers: int,
    rates: tuple[float, ...],
    seconds: float,
) -> dict[str, Any]:
    bed = Bed()
    await bed.start()
    factories = sprints(tenant_count, sprints_per_tenant)
    sockets = len(factories) * viewers
    try:
        # Socket i follows sprint i mod sprints: every sprint gets `viewers` sockets.
        opened = await pool.connect(
            bed.ws_url, sockets, ready_frames=2, first_frames_each=socket_frames(bed.secret, factories, True)
        )
        if opened["open"] < sockets:
            raise RuntimeError(f"{opened['open']} of {sockets} sockets opened: {opened['errors']}")
        sampled = min(sockets, 1000)
        runs = {str(int(r)): await at_rate(bed, pool, factories, r, seconds, sampled) for r in rates}
    finally:
        try:
            await pool.close()
        finally:
            await bed.stop()
    return {
        "tenants": tenant_count,
        "sprints": len(factories),
        "viewers_per_sprint": viewers,
        "sockets": sockets,
        "connect_seconds": round(opened["seconds"], 1),
        "rates": runs,
    }
