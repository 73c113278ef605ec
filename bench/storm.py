"""Reconnect storm: one notifier killed (-9) while events flow; every viewer resumes on a second one.

Its own NATS and two notifiers (`ingest.Bed`, default settings). The viewers (`stormclient.py`, as the
board: back-off with jitter, `resume_from`) sit in sprints of ten over many tenants on the first
notifier; a probe socket on the second measures its publish → read latency through the storm. Events
go round-robin over every sprint before, during and after; each viewer's event ids are checked against
what was published to its sprint (lost, duplicated), and the second notifier's CPU and RSS are sampled.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

import psutil

from bench.events import EventFactory, RoundRobin
from bench.ingest import Bed
from bench.machine import source_addresses
from bench.procs import Child
from bench.stats import percentile, summary
from bench.tenants import sprints

log = logging.getLogger("bench.storm")
PROBE_RATE = 50.0  # probe events/s: enough samples in a storm of a few seconds
SAMPLE_S = 0.2  # the second notifier's CPU window
# After the last publish: quiet this long ends the wait once no viewer is owed an event; STUCK_S (more
# than the notifier's 30 s replay stall) ends it while some are; SETTLE_LIMIT_S in any case (at 10,000
# viewers the last stream replays finished ~290 s after the last publish).
QUIET_S, STUCK_S, SETTLE_LIMIT_S = 3.0, 40.0, 600.0


async def sample(pid: int, until: asyncio.Event) -> dict[str, float]:
    """Peak CPU (% of a core, over SAMPLE_S windows) and peak RSS of a process until `until` is set."""
    proc = psutil.Process(pid)
    peak_cpu = peak_rss = 0.0
    t = proc.cpu_times()
    last, at = t.user + t.system, time.monotonic()
    while not until.is_set():
        await asyncio.sleep(SAMPLE_S)
        t = proc.cpu_times()
        now = time.monotonic()
        peak_cpu = max(peak_cpu, 100 * (t.user + t.system - last) / (now - at))
        peak_rss = max(peak_rss, proc.memory_info().rss / 2**20)
        last, at = t.user + t.system, now
    return {"peak_cpu_pct": round(peak_cpu, 1), "peak_rss_mib": round(peak_rss, 1)}


def _tokens(secret: str, factories: list[EventFactory]) -> dict[str, str]:
    from sprintboard_kit.tokens import mint_dev_token

    return {
        t: mint_dev_token(secret, sub=f"user-{t}", name="Storm", email=None, org_id=t)
        for t in sorted({f.tenant_id for f in factories})
    }


async def _all(
    workers: list[Child], cmds: list[dict[str, Any]], timeout: float = 300
) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(w.call(c, timeout) for w, c in zip(workers, cmds, strict=True))))


async def measure(
    tenant_count: int,
    sprints_per_tenant: int,
    viewers: int,
    rate: float,
    before_s: float,
    after_s: float,
    workers_count: int = 2,
) -> dict[str, Any]:
    bed = Bed()
    await bed.start()
    second = await bed.add_notifier("storm-second")
    workers = list(
        await asyncio.gather(
            *(Child.python(f"stormclient-{i}", "bench.stormclient") for i in range(workers_count))
        )
    )
    try:
        return await _storm(
            bed, second, workers, tenant_count, sprints_per_tenant, viewers, rate, before_s, after_s
        )
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
        await bed.stop()


async def _storm(
    bed: Bed,
    second: Any,
    workers: list[Child],
    tenant_count: int,
    sprints_per_tenant: int,
    viewers: int,
    rate: float,
    before_s: float,
    after_s: float,
) -> dict[str, Any]:
    factories = sprints(tenant_count, sprints_per_tenant)
    probe = EventFactory(tenant_id="tenant-probe")
    tokens = _tokens(bed.secret, [*factories, probe])
    first_url, second_url = bed.ws_url, second.url.replace("http://", "ws://") + "/api/v1/ws/tasks"
    every = [
        (tokens[f.tenant_id], str(f.sprint_id), i % len(factories))
        for i, f in ((i, factories[i % len(factories)]) for i in range(len(factories) * viewers))
    ]
    n = len(workers)
    addrs = source_addresses(16)
    started = time.monotonic()
    replies = await _all(
        workers,
        [
            {
                "cmd": "connect",
                "url": first_url,
                "fallback": second_url,
                "viewers": every[i::n],
                "addrs": addrs[i::n],
            }
            for i in range(n)
        ],
    )
    subscribed = sum(r["subscribed"] for r in replies)
    connect_s = time.monotonic() - started
    if subscribed < len(every):
        raise RuntimeError(f"{subscribed} of {len(every)} viewers subscribed on the first notifier")
    probe_viewer = [[tokens[probe.tenant_id], str(probe.sprint_id), -1]]
    await workers[0].call({"cmd": "connect", "url": second_url, "viewers": probe_viewer, "probe": True})
    events, probes = RoundRobin(bed.js, factories, rate), RoundRobin(bed.js, [probe], PROBE_RATE)
    done = asyncio.Event()
    assert second.proc is not None
    sampling = asyncio.create_task(sample(second.proc.pid, done))
    publishing = [asyncio.create_task(events.run()), asyncio.create_task(probes.run("-1"))]
    await asyncio.sleep(before_s)
    assert bed.notifier.proc is not None
    bed.notifier.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    log.info("  storm: first notifier killed with %d viewers", len(every))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await _all(workers, [{"cmd": "status"}] * n)
        if sum(s["resumed"] for s in status) >= len(every):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(after_s)
    events.stopped.set()
    probes.stopped.set()
    await asyncio.gather(*publishing)
    # `subscribed` comes before a resume's replay, so replays (from memory, or read from the stream a
    # few at a time) may still be on their way, and a replay waiting for a stream reader delivers
    # nothing for up to NOTIFIER_REPLAY_STALL_SECONDS before it ends in resync_required. So wait until no
    # viewer is owed an event (then QUIET_S more, for late duplicates), or nothing came for STUCK_S.
    counts = {k: len(ids) for k, ids in {**events.published, **probes.published}.items()}
    stopped_at = time.monotonic()
    seen: tuple[int, int] | None = None
    changed, owed = stopped_at, 0
    while time.monotonic() - stopped_at < SETTLE_LIMIT_S:
        status = await _all(workers, [{"cmd": "status", "expected_counts": counts}] * n)
        owed = sum(s["owed"] for s in status)
        now_seen = (sum(s["events"] for s in status), sum(s["resyncs"] for s in status))
        if now_seen != seen:
            seen, changed = now_seen, time.monotonic()
        elif time.monotonic() - changed >= (QUIET_S if not owed else STUCK_S):
            break
        await asyncio.sleep(0.25)
    done.set()
    peaks = await sampling
    sent_at = {**events.sent_at, **probes.sent_at}
    expected = {
        k: [(i, sent_at[i]) for i in ids] for k, ids in {**events.published, **probes.published}.items()
    }
    reports = await _all(workers, [{"cmd": "report", "expected": expected}] * n)
    await _all(workers, [{"cmd": "close"}] * n)
    resumed = [t - killed_at for r in reports for t in r["resume_at"]]
    # When the lost events were built, from the kill: at the kill, during the storm, or at the end.
    lost_at = [events.sent_at[i] - killed_at for r in reports for i in r["lost_ids"] if i in events.sent_at]
    lags = [tuple(x) for r in reports for x in r["probe_lags"]]
    last_resume = killed_at + max(resumed, default=0.0)
    result = {
        "viewers": len(every),
        "tenants": tenant_count,
        "sprints": len(factories),
        "events_per_s": rate,
        "connect_seconds": round(connect_s, 1),
        "published": sum(len(v) for v in events.published.values()),
        "resumed": len(resumed),
        "not_resumed": sum(r["not_resumed"] for r in reports),
        "all_resumed_s": round(max(resumed), 2) if len(resumed) >= len(every) else None,
        "resume_s": {"p50": _r(percentile(resumed, 50)), "p99": _r(percentile(resumed, 99))},
        "lost": sum(r["lost"] for r in reports),
        "viewers_with_losses": sum(r["viewers_with_losses"] for r in reports),
        # Of the lost, those missing from between events the viewer did receive (the rest: not yet arrived).
        "lost_in_holes": sum(r["lost_in_holes"] for r in reports),
        "lost_built_s_after_kill": summary(lost_at),
        "lost_by_phase": {
            k: sum(r["lost_by_phase"][k] for r in reports)
            for k in ("before_drop", "while_away", "after_resume")
        },
        "published_until_s_after_kill": round(max(events.sent_at.values()) - killed_at, 2),
        # From the last publish until the viewers stopped receiving (replays and backlog delivered).
        "delivered_s_after_last_publish": round(changed - stopped_at, 2),
        # Viewers still owed events (not told to resync) when the wait ended: those are the lossy ones.
        "owed_at_end": owed,
        "duplicated": sum(r["duplicated"] for r in reports),
        "resyncs": sum(r["resyncs"] for r in reports),
        "missed_after_resync": sum(r["missed_after_resync"] for r in reports),
        "attempts": sum(r["attempts"] for r in reports),
        "second_notifier": peaks,
        "probe_ms": {
            "before": summary([ms for at, ms in lags if at < killed_at]),
            "storm": summary([ms for at, ms in lags if killed_at <= at <= last_resume]),
            "after": summary([ms for at, ms in lags if at > last_resume]),
        },
    }
    log.info(
        "  storm: %d/%d resumed in %s s, lost %d, duplicated %d, second notifier peak %s%% CPU %s MiB",
        result["resumed"],
        len(every),
        result["all_resumed_s"],
        result["lost"],
        result["duplicated"],
        peaks["peak_cpu_pct"],
        peaks["peak_rss_mib"],
    )
    return result


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)
