"""Fan-out: N sockets on one feed, events at rising rates; deliveries/s, delivery lag and server CPU."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil

from bench.clients import ClientPool
from bench.plans import Plan
from bench.procs import Meter, quiet
from bench.stats import median, percentile, spread
from bench.targets import Target

log = logging.getLogger("bench.fanout")
SATURATED = 0.85  # a step that delivers less than this share of what was offered is past saturation


async def step(
    pool: ClientPool, target: Target, sockets: int, offered: int, seconds: float
) -> dict[str, Any]:
    """One rate: `offered` deliveries/s for about `seconds`, then drain; what arrived and how late."""
    events = max(10, round(offered * seconds / sockets))
    rate = offered / sockets
    meter = Meter(target.pid)
    await pool.reset()
    meter.start()
    machine0 = psutil.cpu_times()
    t0 = time.time()
    sent = await target.send(events, rate)
    done = await pool.wait(events, timeout=max(2.0, 2 * seconds))
    server = meter.read()
    machine = busy_pct(machine0, psutil.cpu_times())
    if done["min_events"] < events:
        await pool.settle(limit=5 * seconds)
    lags, _, _ = await pool.samples()
    # A server that keeps up delivers at the offered rate; one that falls behind finishes late.
    elapsed = max(events / rate, (done["last_at"] or time.time()) - t0)
    achieved = done["events"] / elapsed
    return {
        "offered_per_s": offered,
        "events": events,
        "delivered": done["events"],
        "expected": events * done["open"],
        "deliveries_per_s": round(achieved),
        "lag_ms_p50": _round(percentile(lags, 50)),
        "lag_ms_p99": _round(percentile(lags, 99)),
        "lag_samples": len(lags),
        # Below zero only if a client's clock read earlier than the sender's (same host clock): counted.
        "negative_lags": sum(1 for v in lags if v < 0),
        "server_cpu_pct": server["cpu_pct"],
        "server_kernel_share": server["kernel_share"],
        "server_rss_mib": server["rss_mib"],
        "client_cpu_pct": pool.cpu(),
        "busiest_client_cpu_pct": pool.busiest_cpu(),
        "machine_busy_pct": machine,  # every core, every process: 100 % x cores when full
        "sender_behind_ms": sent.get("behind_ms"),
        "sockets_open": done["open"],
        "sockets_closed": done["closed"],
        "close_reasons": done["close_reasons"],
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


async def ladder(
    pool: ClientPool, target: Target, sockets: int, rates: tuple[int, ...], seconds: float
) -> list[dict[str, Any]]:
    """Rising rates until a step falls short of what was offered (or sockets were dropped).

    Past the plan's last rung the rate keeps rising by RISE (up to CEILING x the last rung): a ladder
    that ends with every rate kept up with has measured a lower bound, and no ratio can be read from it.
    Each rate runs once; a short step ends the ladder (no second try: the repeats show the spread)."""
    steps: list[dict[str, Any]] = []
    offered_rates = list(rates)
    while offered_rates:
        offered = offered_rates.pop(0)
        result = await step(pool, target, sockets, offered, seconds)
        result["limit"] = _limit(result) if _short(result) else None
        log.info(
            "  %s n=%d offered %d/s -> %d/s, p99 lag %s ms, cpu %s%%, clients max %s%%, closed %d%s",
            target.name,
            sockets,
            offered,
            result["deliveries_per_s"],
            result["lag_ms_p99"],
            result["server_cpu_pct"],
            result["busiest_client_cpu_pct"],
            result["sockets_closed"],
            f" (short: {result['limit']})" if result["limit"] else "",
        )
        steps.append(result)
        if result["limit"]:
            break
        if not offered_rates and offered * RISE <= CEILING * rates[-1]:
            offered_rates.append(round(offered * RISE))
    return steps


RISE = 1.5
CEILING = 8
BUSY = 90.0  # % of one core: a load client this busy during a short step may be what fell short


def _limit(result: dict[str, Any]) -> str:
    """What a short step ran into: a load client's core (then the server's rate is not known); other
    work on the machine (`starved`: neither the server nor the bench filled it, something else did); or
    the server: it used its core, or the server and clients together filled the machine's cores (they
    share them), or it fell short on an idle machine without using its core (a limit of its own)."""
    if result["sockets_closed"]:
        return "sockets closed"
    if result["busiest_client_cpu_pct"] >= BUSY:
        return "clients"
    ours = result["server_cpu_pct"] + result["client_cpu_pct"]
    full = BUSY * CORES
    if result["server_cpu_pct"] < BUSY and ours < full and result["machine_busy_pct"] >= full:
        return "starved"  # other work filled the machine: what the server can do is not known
    return "server"


CORES = psutil.cpu_count() or 1


def busy_pct(before: Any, after: Any) -> float:
    """Machine-wide CPU in % of one core (all cores, all processes) between two `psutil.cpu_times()`."""
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    total = sum(after) - sum(before)
    return round(100 * CORES * (1 - idle / total), 1) if total > 0 else 0.0


def _short(result: dict[str, Any]) -> bool:
    return bool(result["deliveries_per_s"] < SATURATED * result["offered_per_s"] or result["sockets_closed"])


LAG_LIMIT_MS = 50.0


def within_lag(run: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest rung delivered in full whose p99 lag stays within LAG_LIMIT_MS (batched throughput)."""
    ok = [s for s in run if not _short(s) and s["lag_ms_p99"] is not None and s["lag_ms_p99"] <= LAG_LIMIT_MS]
    return max(ok, key=lambda s: s["offered_per_s"]) if ok else None


async def measure(
    pool: ClientPool,
    start_target: Callable[[], Awaitable[Target]],
    sockets: int,
    rates: tuple[int, ...],
    plan: Plan,
) -> dict[str, Any]:
    """Start the target, connect `sockets`, run the ladder `plan.repeats` times; medians over repeats."""
    target = await start_target()
    meter = Meter(target.pid)
    try:
        await quiet(target.pid, limit=5 * plan.step_seconds)  # a shared process may still be busy
        rss_before = meter.rss()
        conn = await pool.connect(target.url, sockets, target.first_frames, target.ready_frames)
        rss_after = meter.rss()
        if conn["open"] < sockets:
            log.warning(
                "%s: only %d of %d sockets open: %s", target.name, conn["open"], sockets, conn["errors"]
            )
        await step(pool, target, conn["open"] or 1, rates[0], min(1.0, plan.step_seconds))  # warm-up
        runs = [
            await ladder(pool, target, conn["open"] or 1, rates, plan.step_seconds)
            for _ in range(plan.repeats)
        ]
    finally:
        await pool.close()
        await target.stop()
    peaks: list[float | None] = [max(s["deliveries_per_s"] for s in run) for run in runs]
    limits = [run[-1]["limit"] for run in runs]
    fits = [within_lag(run) for run in runs]
    return {
        "server": target.name,
        "sockets": sockets,
        "sockets_open": conn["open"],
        "connect_seconds": round(conn["seconds"], 2),
        "rss_per_socket_kib": round((rss_after - rss_before) / max(1, conn["open"]) / 1024, 1),
        "saturation_per_s": median(peaks),
        "saturation_spread": spread(peaks),
        "saturation_runs": peaks,
        # Per repeat: what its last step ran into (None: every rate up to the ceiling was kept up with).
        "limits": limits,
        # Only a server that ran out of its own core in every repeat is saturated; only those give ratios.
        "saturated": all(limit == "server" for limit in limits),
        "within_lag": {
            "lag_limit_ms": LAG_LIMIT_MS,
            "per_s": spread([None if w is None else w["deliveries_per_s"] for w in fits]),
            "lag_ms_p99": spread([None if w is None else w["lag_ms_p99"] for w in fits]),
            "offered_per_s": spread([None if w is None else w["offered_per_s"] for w in fits]),
        },
        "steps": _median_steps(runs),
    }


def _median_steps(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per offered rate, the median of each number over the repeats that reached that rate."""
    by_rate: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        for s in run:
            by_rate.setdefault(s["offered_per_s"], []).append(s)
    merged = []
    for _, same in sorted(by_rate.items()):
        row = dict(same[len(same) // 2])
        for key in (
            "deliveries_per_s",
            "lag_ms_p50",
            "lag_ms_p99",
            "server_cpu_pct",
            "client_cpu_pct",
            "busiest_client_cpu_pct",
        ):
            row[key] = median([s[key] for s in same])
        row["repeats"] = len(same)
        merged.append(row)
    return merged


def at_rate(result: dict[str, Any], offered: int) -> dict[str, Any] | None:
    """The step of a result at one offered rate, if it ran."""
    return next((s for s in result["steps"] if s["offered_per_s"] == offered), None)
