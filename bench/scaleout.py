"""Scale-out: four notifiers on a three-node NATS cluster; what share of the events each instance reads.

NATS runs as the distributed engine (`sprintboard_devstack.cluster`: three nodes, `BACKLOG_TASKS`
replicated three times); four `python -m sprintboard_notifier` processes connect with all three URLs.
Each tenant has one sprint and its viewers; every socket carries the routing hint (`?tenant=`),
authenticates by frame and subscribes to its sprint. Events go into JetStream on v2 subjects, round-robin
over the tenants at a fixed rate. The runs of RUNS, fresh notifiers each: tenant-affine placement (a
tenant's sockets on one instance, as the compose gateway hashes them), one instance holding every socket
(the capacity baseline), random placement, all with interest routing on the republish path, then
every instance reading all (`NOTIFIER_FOLLOW=all`) with affine placement, and affine placement on the
consumer path (a JetStream consumer per tenant).
Per instance: its share of the published events (`notifier_events_received_total`), its CPU; per run the
publish → read latency of sampled sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from bench.clients import ClientPool
from bench.events import EventFactory, RoundRobin
from bench.fanout import busy_pct
from bench.ingest import COUNTER, PUBLISH_PENDING, cpu_times, socket_frames
from bench.metrics import scrape
from bench.plans import Plan
from bench.procs import quiet
from bench.stats import summary

log = logging.getLogger("bench.scaleout")
FOLLOWED = "notifier_followed_tenants"
# label -> (placement, how an instance reads: "republish" or "consumers" (interest routing,
# NOTIFIER_FOLLOW=interest with that NOTIFIER_INTEREST_PATH) or "all" (NOTIFIER_FOLLOW=all),
# NOTIFIER_FOLLOW_ALL_ABOVE or None for the default, notifiers or None for the plan's), in run order.
# "one": a single notifier, so affine placement puts every socket on it (it follows every tenant), the
# baseline of the capacity ratio; "random": each instance follows ~94 % of the tenants; "affine-consumers":
# the consumer path (a JetStream consumer per tenant), the interest routing of stop 22, in the same run.
RUNS: dict[str, tuple[str, str, int | None, int | None]] = {
    "affine": ("affine", "republish", None, None),
    "one": ("affine", "republish", None, 1),
    "random": ("random", "republish", None, None),
    "all": ("affine", "all", None, None),
    "affine-consumers": ("affine", "consumers", None, None),
}
SETTLE_S = 0.5  # counters unchanged this long: every instance has read what it will read
CONNECT_LIMIT_S = 300.0  # to open every socket of a run (random placement took over 120 s in a slow hour)


@dataclass(frozen=True)
class Instance:
    """One notifier process of a run."""

    service: Any  # sprintboard_devstack.stack.ServiceProcess

    @property
    def pid(self) -> int:
        assert self.service.proc is not None
        return int(self.service.proc.pid)

    @property
    def url(self) -> str:
        return str(self.service.url)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws/tasks"


def affine(tenant_id: str, instances: int) -> int:
    """The instance of a tenant's sockets by rendezvous hashing of the hint, as the compose gateway places
    them (Caddy's hashing policies): the instance whose hash with the tenant is the highest."""
    return max(range(instances), key=lambda i: hashlib.blake2b(f"{i}/{tenant_id}".encode()).digest())


class ClusterBed:
    """A NATS cluster of `nodes` (three: the scale-out scenario's) with the stream replicated on each, and
    notifiers started per run."""

    def __init__(self, instances: int, nodes: int = 3) -> None:
        from sprintboard_devstack.cluster import NatsCluster

        self.instances, self.nodes = instances, nodes
        self.secret = "scaleout-bench-secret-" + uuid.uuid4().hex
        self.cluster = NatsCluster(nodes)
        self.logs = Path(tempfile.mkdtemp(prefix="sprintboard-scaleout-"))
        self.notifiers: list[Instance] = []
        self.nc: Any = None
        self.js: Any = None

    async def start(self) -> None:
        import nats

        from sprintboard_devstack.cluster import replicated_stream

        self.cluster.start()  # from this thread: a node dies with the thread that started it
        await replicated_stream(self.cluster.urls, replicas=self.nodes)
        self.nc = await nats.connect(self.cluster.urls, name="sprintboard-bench-scaleout")
        self.js = self.nc.jetstream(publish_async_max_pending=PUBLISH_PENDING)

    def nats_cpu(self) -> list[float]:
        """CPU seconds (user + system) of each NATS node so far."""
        return [sum(cpu_times(node.pid)) if node.pid else 0.0 for node in self.cluster.nodes]

    async def start_notifiers(
        self, label: str, follow: str, wide_above: int | None = None, count: int | None = None
    ) -> list[Instance]:
        """`count` (None: the bed's number) notifiers of run `label` on every node's URL, reading as `follow`
        says (and going wide above `wide_above` tenants, None: the default); presence off."""
        from sprintboard_devstack.servers import free_port
        from sprintboard_devstack.stack import ServiceProcess

        services = []
        for n in range(count or self.instances):
            port = free_port()
            env = os.environ | {
                "NATS_URL": self.cluster.url,
                "SPRINTBOARD_JWT_SECRET": self.secret,
                "NOTIFIER_PORT": str(port),
                "NOTIFIER_INSTANCE_ID": f"scaleout-{label}-{n}",
                "NOTIFIER_STREAM_REPLICAS": str(self.nodes),
                "NOTIFIER_FOLLOW": "all" if follow == "all" else "interest",
                # Presence refreshes cost CPU by time, not by event; presence has its own scenario.
                "NOTIFIER_PRESENCE_ENABLED": "false",
            }
            if follow != "all":
                env["NOTIFIER_INTEREST_PATH"] = follow
            if wide_above is not None:
                env["NOTIFIER_FOLLOW_ALL_ABOVE"] = str(wide_above)
            log_file = self.logs / f"notifier-{label}-{n}.log"
            # Ready, not live: a notifier refuses sockets until its stream reading runs.
            services.append(
                ServiceProcess(
                    "sprintboard_notifier", "127.0.0.1", port, env, log_file, health_path="/health/ready"
                )
            )
        try:
            await asyncio.gather(*(asyncio.to_thread(s.start) for s in services))
        finally:
            self.notifiers = [Instance(s) for s in services]
        return self.notifiers

    async def stop_notifiers(self, limit: float = 30.0) -> int:
        """Stop the run's notifiers and wait (at most `limit` s) until the server has dropped their
        consumers, so that the next run starts on a stream with none; how many were left."""
        await asyncio.gather(*(asyncio.to_thread(n.service.stop) for n in self.notifiers))
        self.notifiers = []
        deadline = time.monotonic() + limit
        while (left := await self.consumers()) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        return left

    async def consumers(self) -> int:
        """The consumers on BACKLOG_TASKS now (nats-server 2.15 allows a stream 1,000 by default)."""
        from sprintboard_contracts.subjects import STREAM_NAME

        return int((await self.js.stream_info(STREAM_NAME)).state.consumer_count)

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(n.service.stop) for n in self.notifiers))
        if self.nc is not None:
            await self.nc.close()
        self.cluster.cleanup()


def placement(
    tenants: list[EventFactory], viewers: int, instances: int, how: str, seed: int = 14
) -> list[tuple[int, int]]:
    """(tenant index, instance) of every socket: `viewers` per tenant, affine or each one at random."""
    rng = random.Random(seed)
    return [
        (t, affine(f.tenant_id, instances) if how == "affine" else rng.randrange(instances))
        for t, f in enumerate(tenants)
        for _ in range(viewers)
    ]


async def _connect(
    pool: ClientPool,
    notifiers: list[Instance],
    tenants: list[EventFactory],
    secret: str,
    sockets: list[tuple[int, int]],
) -> dict[str, Any]:
    frames = socket_frames(secret, tenants, matching=True)
    urls = [f"{notifiers[i].ws_url}?tenant={quote(tenants[t].tenant_id)}" for t, i in sockets]
    opened = await pool.connect(
        notifiers[0].ws_url,
        len(sockets),
        ready_frames=2,
        first_frames_each=[frames[t] for t, _ in sockets],
        urls_each=urls,
        timeout=CONNECT_LIMIT_S,
    )
    if opened["open"] < len(sockets):
        raise RuntimeError(f"{opened['open']} of {len(sockets)} sockets opened: {opened['errors']}")
    return opened


async def _counters(notifiers: list[Instance]) -> list[dict[str, float]]:
    return list(await asyncio.gather(*(scrape(n.url) for n in notifiers)))


async def _settled(notifiers: list[Instance], limit: float = 30.0) -> list[dict[str, float]]:
    """The instances' metrics once no counter of received events has moved for SETTLE_S."""
    deadline = time.monotonic() + limit
    last = await _counters(notifiers)
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_S)
        now = await _counters(notifiers)
        if [m.get(COUNTER) for m in now] == [m.get(COUNTER) for m in last]:
            return now
        last = now
    return last


def _instance(
    before: dict[str, float], after: dict[str, float], cpu: float, sockets: int, published: int
) -> dict[str, Any]:
    received = after.get(COUNTER, 0.0) - before.get(COUNTER, 0.0)
    return {
        "sockets": sockets,
        "received": int(received),
        "share": round(received / published, 4),
        "followed_tenants": after.get(FOLLOWED),  # None: this notifier has no such gauge
        "cpu_s": round(cpu, 3),
        "cpu_us_per_received": round(cpu * 1e6 / received, 1) if received else None,
        "cpu_us_per_published": round(cpu * 1e6 / published, 1),
    }


async def run(
    bed: ClusterBed,
    pool: ClientPool,
    tenants: list[EventFactory],
    label: str,
    viewers: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """One run of RUNS with fresh notifiers: connect, publish for `seconds`, read every instance's figures."""
    how, follow, wide_above, count = RUNS[label]
    notifiers = await bed.start_notifiers(label, follow, wide_above, count)
    try:
        sockets = placement(tenants, viewers, len(notifiers), how)
        opened = await _connect(pool, notifiers, tenants, bed.secret, sockets)
        # Settled: the instances done with the connects, the nodes with creating what they asked for.
        for pid in [n.pid for n in notifiers] + [node.pid for node in bed.cluster.nodes if node.pid]:
            await quiet(pid, limit=10)
        rounds = max(1, round(rate * seconds / len(tenants)))  # every tenant gets as many events
        events = rounds * len(tenants)
        await pool.reset(sample_limit=rounds + 10, sample_sockets=min(len(sockets), 1000))
        before, cpu0 = await _counters(notifiers), [sum(cpu_times(n.pid)) for n in notifiers]
        nats0, machine0, t0 = bed.nats_cpu(), psutil.cpu_times(), time.monotonic()
        publisher = RoundRobin(bed.js, tenants, rate)
        sent_s = await publisher.run(count=events)
        done = await pool.wait(rounds, timeout=max(10.0, 2 * seconds))
        after = await _settled(notifiers)
        consumers = await bed.consumers()
        cpu = [sum(cpu_times(n.pid)) - c for n, c in zip(notifiers, cpu0, strict=True)]
        wall, machine = time.monotonic() - t0, busy_pct(machine0, psutil.cpu_times())
        nats_pct = [round(100 * (b - a) / wall, 1) for a, b in zip(nats0, bed.nats_cpu(), strict=True)]
        lags, _, sampled = await pool.samples()
    finally:
        await pool.close()
        left = await bed.stop_notifiers()
    per_instance = [
        _instance(b, a, c, sum(1 for _, i in sockets if i == n), events)
        for n, (b, a, c) in enumerate(zip(before, after, cpu, strict=True))
    ]
    return {
        "placement": how,
        "follow": follow,
        "follow_all_above": wide_above,
        "events": events,
        "events_per_tenant": rounds,
        "published_s": round(sent_s, 2),
        "publisher_behind_ms": round(publisher.behind * 1000, 1),
        "connect_seconds": round(opened["seconds"], 1),
        "delivered": done["events"],
        "expected": rounds * done["open"],
        "sockets_closed": done["closed"],
        "latency_ms": summary(lags),
        "negative_latencies": sum(1 for v in lags if v < 0),
        "sampled_sockets": sampled,
        "busiest_client_cpu_pct": pool.busiest_cpu(),
        # Every process of the machine, in % of one core (200 when both cores are full), and NATS's share.
        "machine_busy_pct": machine,
        "nats_nodes_cpu_pct": nats_pct,
        "instances": per_instance,
        "stream_consumers": consumers,
        "consumers_left_after": left,  # on the stream once the run's notifiers had gone (waited up to 30 s)
        "max_share": max(i["share"] for i in per_instance),
        "max_cpu_us_per_published": max(i["cpu_us_per_published"] for i in per_instance),
    }


def capacity(runs: dict[str, Any]) -> dict[str, Any] | None:
    """Projected from CPU per published event, not measured at saturation: the events/s at which a run's
        busiest instance would fill one core (the cluster's rate). The affine interest-routed cluster against
        one instance holding every socket ("one", measured in the same run), against one instance doing all of
        the affine run's work (the sum of its instances' CPU per published event: each event read once, every
        delivery), against the cluster whose instances each read all, and against the affine cluster on the
    consumer path."""
    if "affine" not in runs:
        return None
    per_s = {k: round(1e6 / r["max_cpu_us_per_published"]) for k, r in runs.items()}
    summed = round(1e6 / sum(i["cpu_us_per_published"] for i in runs["affine"]["instances"]))
    return {
        "events_per_s_at_one_core": per_s,
        "vs_one": round(per_s["affine"] / per_s["one"], 2) if "one" in per_s else None,
        "one_instance_events_per_s": summed,
        "vs_one_instance": round(per_s["affine"] / summed, 2),
        "vs_all": round(per_s["affine"] / per_s["all"], 2) if "all" in per_s else None,
        "vs_consumers": (
            round(per_s["affine"] / per_s["affine-consumers"], 2) if "affine-consumers" in per_s else None
        ),
        # The ceiling the hash's balance sets on any ratio to one instance: 1 / the busiest share.
        "balance_bound": round(1 / runs["affine"]["max_share"], 2),
    }


async def measure(pool: ClientPool, plan: Plan) -> dict[str, Any]:
    """The plan's `scaleout_*` sizes, each run of RUNS in turn on one cluster."""
    tenant_count, viewers, instances = plan.scaleout_tenants, plan.scaleout_viewers, plan.scaleout_instances
    rate, seconds = plan.scaleout_rate, plan.scaleout_seconds
    bed = ClusterBed(instances)
    tenants = [EventFactory(tenant_id=f"scaleout-{t:04d}") for t in range(tenant_count)]
    runs: dict[str, Any] = {}
    failed: dict[str, str] = {}
    try:
        await bed.start()
        for label in RUNS:
            try:
                r = await run(bed, pool, tenants, label, viewers, rate, seconds)
            except Exception as exc:  # the other runs still say something
                failed[label] = f"{type(exc).__name__}: {exc}"[:300]
                log.error("  scaleout %s failed: %s", label, failed[label])
                continue
            runs[label] = r
            log.info(
                "  scaleout %s: shares %s, p50 %s p99 %s ms, CPU µs/published %s",
                label,
                [i["share"] for i in r["instances"]],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p99"],
                [i["cpu_us_per_published"] for i in r["instances"]],
            )
    finally:
        await bed.stop()
    return {
        "tenants": tenant_count,
        "viewers_per_tenant": viewers,
        "sockets": tenant_count * viewers,
        "instances": instances,
        "nats_nodes": 3,
        "stream_replicas": 3,
        "offered_events_per_s": rate,
        "seconds": seconds,
        "order": list(runs),
        "runs": runs,
        "failed": failed,
        "capacity": capacity(runs),
        "notifier_logs": str(bed.logs),
    }
