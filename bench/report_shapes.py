"""Report rows and detail tables of the deployment-shaped scenarios: tenants, reconnect storm, first event."""

from __future__ import annotations

from typing import Any

from bench.tables import n, table

Row = tuple[str, str, str, str, str]  # measurement, target, result, vs baseline, status


def status(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def tenant_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("tenants")
    if not r:
        return [("Many tenants", "p99 ≤ 25 ms at 2,000 events/s", "not run", "", "—")]
    rows: list[Row] = []
    shape = (
        f"{r['sockets']:,} sockets, {r['sprints']:,} sprints x {r['viewers_per_sprint']}, "
        f"{r['tenants']} tenants"
    )
    for rate, x in r["rates"].items():
        ms = x["latency_ms"]
        limited = int(rate) == 2000
        rows.append(
            (
                f"Many tenants, {int(rate):,} events/s over {shape} (publish → socket read)",
                "p99 ≤ 25 ms" if limited else "reported",
                f"p50 {n(ms['p50'], 1)} / p99 {n(ms['p99'], 1)} ms",
                f"notifier {n(x['notifier_cpu_pct'])} % CPU, {n(x['deliveries_per_s'])} deliveries/s "
                f"({x['delivered']:,} of {x['expected']:,})",
                status(None if not limited or ms["p99"] is None else ms["p99"] <= 25),
            )
        )
    return rows


def tenant_details(results: dict[str, Any]) -> str:
    r = results.get("tenants") or {}
    rows = []
    for rate, x in r.get("rates", {}).items():
        ms = x["latency_ms"]
        rows.append(
            (
                n(float(rate)),
                f"{x['events']:,} ({x['events_per_sprint']} per sprint)",
                f"{n(ms['p50'], 1)} / {n(ms['p95'], 1)} / {n(ms['p99'], 1)} / {n(ms['max'], 1)}",
                f"{ms['n']:,} ({x['sampled_sockets']} sockets)",
                str(x["negative_latencies"]),
                f"{n(x['notifier_cpu_pct'])} % ({n(100 * x['notifier_kernel_share'])} % kernel)",
                n(x["deliveries_per_s"]),
                f"{x['delivered']:,} / {x['expected']:,}",
                n(x["busiest_client_cpu_pct"]),
            )
        )
    header = (
        "events/s",
        "events",
        "publish → read p50 / p95 / p99 / max ms",
        "samples",
        "< 0",
        "notifier CPU",
        "deliveries/s",
        "delivered / expected",
        "busiest client CPU %",
    )
    return table(header, rows)


TENANTS_NOTE = (
    "Its own NATS and one notifier (default settings). Each sprint has its viewers (one token per",
    "tenant, subscribed to the sprint); events go into `BACKLOG_TASKS` round-robin over every sprint,",
    "each built (timestamped) just before it is published: the latency runs from that timestamp to",
    "the frame's arrival at a sampled socket (one host clock; below zero is counted, `< 0`).",
)
