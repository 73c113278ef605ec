"""Report rows and detail tables of the capacity scenario: each case's saturated rate under the same CPU
quota, and the ratio that judges issue 13's capacity target."""

from __future__ import annotations

from typing import Any

from bench.capacity import STARVED, combined, judged, starved
from bench.report_scaleout import CAPACITY_RATIO
from bench.report_shapes import Row, status
from bench.tables import n, ranged, table, x

TITLES = {
    "one": "one instance holding every socket (it follows every tenant)",
    "busiest": "the busiest instance of tenant-affine placement, interest routing (republish path)",
    "busiest-reads-all": "the same sockets on an instance that reads every event (today's design)",
}


def _quota(cores: str, q: dict[str, Any]) -> dict[str, Any]:
    """A quota's results with repeats (a run before `capacity_repeats` had one, without the list)."""
    if "repeats" in q:
        return q
    repeat = {**q, "judged": judged(q["cases"], float(cores))}
    return {"repeats": [repeat], **combined([repeat])}


def _quota_row(cores: str, q: dict[str, Any], instances: int, bound: float | None) -> Row:
    ratios, kept, count = q["ratios"], q["kept_up"], len(q["repeats"])
    vs_one = ratios.get("vs_one_kept_up") or {}
    judged_repeats = q["judged_repeats"]
    absorbed = ranged(ratios.get("vs_one_absorbed"), fmt=x)
    reads_all = ranged(ratios.get("vs_reads_all_kept_up"), fmt=x)
    rates = (
        f"kept up with {ranged(kept.get('busiest'))} vs {ranged(kept.get('one'))} published events/s, "
        f"median [min, max] of {count} repeat{'s' if count > 1 else ''}"
    )
    unjudged = (
        f"; {count - judged_repeats} of {count} repeats not judged: the machine, not the notifier, "
        f"limited a case (steps short with the notifier under {STARVED:.0%} of its cap)"
        if judged_repeats < count
        else ""
    )
    return (
        f"Capacity at saturation, each notifier capped at {cores} of a core: the busiest of {instances} "
        "affine instances with interest routing (the cluster's limit) vs one instance holding every socket",
        f"≥ {CAPACITY_RATIO:g}x, both saturated",
        f"{ranged(vs_one, fmt=x)} ({rates}); past the limit {absorbed}{unjudged}",
        f"vs the same sockets on an instance reading all: {reads_all}; "
        f"the hash's balance alone: 1 / max share = {x(bound)}",
        status(None if vs_one.get("median") is None else vs_one["median"] >= CAPACITY_RATIO),
    )


def capacity_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("capacity")
    if not r:
        target = f"≥ {CAPACITY_RATIO:g}x, both saturated"
        return [
            ("Capacity at saturation: busiest affine instance vs one instance", target, "not run", "", "—")
        ]
    quotas = {cores: _quota(cores, q) for cores, q in r["by_quota"].items()}
    bound = next((rep["ratios"].get("balance_bound") for q in quotas.values() for rep in q["repeats"]), None)
    rows = [_quota_row(cores, q, r["instances"], bound) for cores, q in quotas.items()]
    for what, why in r.get("failed", {}).items():
        rows.append(
            (f"Capacity at saturation, {what} (cores/case)", "completes", f"failed: {why}", "", "**missed**")
        )
    return rows


def capacity_details(results: dict[str, Any]) -> str:
    r = results["capacity"]
    cases_rows, steps_rows = [], []
    for cores, q in r["by_quota"].items():
        for at, repeat in enumerate(_quota(cores, q)["repeats"], 1):
            for label, case in repeat["cases"].items():
                cases_rows.append(
                    (
                        cores,
                        str(at),
                        label,
                        TITLES[label],
                        f"{case['sockets']:,} / {case['tenants']:,}",
                        n(case["idle_cpu_pct"], 1),
                        n(case["highest_kept_up_events_per_s"]),
                        n(case["lowest_short_events_per_s"]),
                        ranged(case.get("saturated_absorbed")),
                        f"{case['lost']:,}",
                    )
                )
                for step in [case["calibration"], *case["steps"]]:
                    ms = step["latency_ms"]
                    steps_rows.append(
                        (
                            cores,
                            str(at),
                            label + (" (calibration)" if step is case["calibration"] else ""),
                            n(step["offered_events_per_s"]),
                            n(step["received_per_s"]),
                            "kept up"
                            if step["kept_up"]
                            else ("short, **starved**" if starved(step, float(cores)) else "**short**"),
                            n(step["absorbed_events_per_s"]),
                            n(step["cpu_pct"], 1),
                            n(step["throttled_periods_pct"], 1),
                            f"{n(ms['p50'], 1)} / {n(ms['p99'], 1)}",
                            f"{step['delivered']:,} / {step['expected']:,}",
                            n(step["drained_after_s"], 2),
                            n(step["publisher_behind_ms"], 1),
                            n(step["machine_busy_pct"]),
                        )
                    )
    cases_header = (
        "cap (cores)",
        "repeat",
        "case",
        "what it is",
        "sockets / tenants",
        "idle CPU % of a core",
        "highest kept up, published events/s",
        "lowest short",
        "absorbed past the limit, published events/s",
        "lost",
    )
    steps_header = (
        "cap (cores)",
        "repeat",
        "case",
        "offered (published) events/s",
        "received events/s",
        "step",
        "absorbed, published events/s",
        "notifier CPU % of a core",
        "throttled periods %",
        "publish → read p50 / p99 ms",
        "delivered / expected",
        "drained after s",
        "publisher behind ms",
        "machine busy % (200 = full)",
    )
    return table(cases_header, cases_rows) + "\n\nEvery step:\n\n" + table(steps_header, steps_rows)


CAPACITY_NOTE = (
    "`bench/capacity.py`: what one notifier keeps up with when it is the bottleneck. Two cores cannot",
    "saturate four notifiers beside NATS, the publisher and 10,000 client sockets, so one notifier at a",
    "time is capped by a cgroup (`bench.machine.CpuQuota`, CFS bandwidth, 20 ms periods) at the same",
    "fraction of a core for every case, and the load on the rest of the machine drives it past its limit.",
    "A single nats-server (the wheel's, R1): NATS is not what is measured. The scale-out scenario's",
    "tenants, one sprint each, 10 viewers per sprint; events round-robin over all the tenants, so the",
    "busiest instance (the one the rendezvous hash gives the most tenants, 270 of 1,000) receives its",
    "tenants' share; a cluster is as fast as its busiest instance. A step keeps up when the notifier",
    "counted (`notifier_events_received_total`, during the step) ≥ 97 % of the events it is sent and the",
    "sampled sockets' publish → read p99 stayed ≤ 500 ms. The offered rate: 70 % of a rate projected from",
    "a light first step, x1.3 per step until one falls short, then x1.05 from the last kept up until one",
    "falls short again, then two steps at 1.15x that rate; `absorbed` is what it counted per second",
    "divided by its share (in published events/s), median [min, max] over the steps that fell short.",
    "Every step's backlog drains before the next (delivered / expected). The whole runs",
    "`capacity_repeats` times per cap (3 in the full plan), the cases back to back in an order rotated by",
    "one per repeat; a ratio is the median [min, max] of the repeats' own ratios, over the repeats where",
    "the machine limited neither case (a step short with the notifier under 90 % of its cap is starved).",
    "Caps 0.15 and 0.25: at 0.35 the machine ran out before the notifier did. Idle: the notifier's CPU",
    "with its sockets open and no event; it includes the periodic looks at quiet tenants (every tenant is",
    "quiet then), which a tenant with an event since its previous turn skips, as every tenant does in the",
    "steps. A quota magnifies what an instance spends by time rather than by event (its idle figure) by",
    "1 / quota against a whole core.",
)
