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


def storm_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("storm")
    target = "all resumed ≤ 10 s, lost 0, duplicated 0"
    if not r:
        return [("Reconnect storm", target, "not run", "", "—")]
    done = r["all_resumed_s"]
    probe = r["probe_ms"]["storm"]
    second = r["second_notifier"]
    ok = done is not None and done <= 10 and r["lost"] == 0 and r["duplicated"] == 0
    return [
        (
            f"Reconnect storm, {r['viewers']:,} viewers, notifier killed at {n(r['events_per_s'])} events/s",
            target,
            f"{r['resumed']:,} resumed, all in {n(done, 1) if done is not None else 'never'} s; lost "
            f"{r['lost']:,}, duplicated {r['duplicated']:,}; {r['resyncs']:,} resync_required",
            f"second notifier peak {n(second['peak_cpu_pct'])} % CPU, {n(second['peak_rss_mib'])} MiB; "
            f"probe p99 {n(probe['p99'], 1)} ms during the storm "
            f"({n(r['probe_ms']['before']['p99'], 1)} before)",
            status(ok),
        )
    ]


def storm_details(results: dict[str, Any]) -> str:
    r = results.get("storm") or {}
    rows = [
        ("viewers / sprints / tenants", f"{r['viewers']:,} / {r['sprints']:,} / {r['tenants']}"),
        ("events published (round-robin, all sprints)", f"{r['published']:,} at {n(r['events_per_s'])}/s"),
        ("resumed / not resumed", f"{r['resumed']:,} / {r['not_resumed']:,} ({r['attempts']:,} connects)"),
        (
            "kill → resumed p50 / p99 / all, s",
            f"{n(r['resume_s']['p50'], 2)} / {n(r['resume_s']['p99'], 2)} / {n(r['all_resumed_s'], 2)}",
        ),
        ("lost (no resync told) / viewers with losses", f"{r['lost']:,} / {r['viewers_with_losses']:,}"),
        (
            "of the lost: in holes / not arrived when the wait ended (viewers still owed)",
            f"{r.get('lost_in_holes', 0):,} / {r['lost'] - r.get('lost_in_holes', 0):,} "
            f"({r.get('owed_at_end', 0):,})",
        ),
        ("last delivery, s after the last publish", f"{n(r['delivered_s_after_last_publish'], 1)}"),
        ("resync_required / events missed after one", f"{r['resyncs']:,} / {r['missed_after_resync']:,}"),
        ("duplicated", f"{r['duplicated']:,}"),
        (
            "second notifier peak CPU / RSS",
            f"{n(r['second_notifier']['peak_cpu_pct'])} % / {n(r['second_notifier']['peak_rss_mib'])} MiB",
        ),
    ]
    for phase in ("before", "storm", "after"):
        p = r["probe_ms"][phase]
        rows.append(
            (
                f"probe publish → read, {phase}, p50 / p99 / max ms",
                f"{n(p['p50'], 1)} / {n(p['p99'], 1)} / {n(p['max'], 1)} ({p['n']} events)",
            )
        )
    return table(("", ""), rows)


STORM_NOTE = (
    "Its own NATS and two notifiers. The viewers (`bench/stormclient.py`) do what the board's live.js",
    "does: `auth`, `subscribe` with `batch: true`, and after a drop a reconnect after 1 s (doubling,",
    "each wait 75-125 % of it) to the second notifier with `resume_from` {seq, epoch}. The first notifier",
    "gets SIGKILL while events flow. Lost: events published to a viewer's sprint it never received",
    "without being told (`resync_required` is counted apart: the board then reads the sprint again).",
    "A probe socket on the second notifier measures publish → read through the storm.",
)


def first_event_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("first_event")
    if not r:
        return [("First event after connect (reference client)", "reported", "not run", "", "—")]
    fresh, rest = r["fresh_sockets_first"], r["one_socket_rest"]
    return [
        (
            f"First event after connect, reference client (`?token=`, no subscribe), {r['fresh']} sockets",
            "reported (no target named)",
            f"p50 {n(fresh['p50'], 1)} / p95 {n(fresh['p95'], 1)} / max {n(fresh['max'], 1)} ms "
            f"(response headers → frame)",
            f"a live socket's later takes p50 {n(rest['p50'], 1)} / p95 {n(rest['p95'], 1)} ms; "
            f"its first {n(r['one_socket_first_ms'], 1)} ms; {r['negative_latencies']} below zero",
            "—",
        )
    ]


def presence_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("presence")
    target = "≤ 2 diffs/s per sprint and notifier, however many join"
    if not r:
        return [("Presence", target, "not run", "", "—")]
    j, q, re_ = r["join"], r["quiet"], r["reconnect"]
    per_socket, quiet_core = j["notifier_cpu_ms_per_socket"], q["notifier_cpu_s"] / q["seconds"] * 100
    return [
        (
            f"Presence, {r['sockets']:,} sockets over {r['sprints']:,} sprints joining at once (2 notifiers)",
            target,
            f"{n(j['diffs_per_sprint_notifier_s'], 2)} diffs/s per sprint and notifier over "
            f"{n(j['seconds'])} s ({n(j['diffs_per_sprint'], 1)} per sprint); notifiers "
            f"{n(per_socket, 2)} ms "
            f"CPU per socket; NATS {j['nats_msgs_in']:,} in / {j['nats_msgs_out']:,} out",
            f"quiet: {n(q['writes'] / q['seconds'], 0)} key writes/s, {n(quiet_core, 1)} % "
            f"of a core; reconnect: {n(re_['diffs_per_sprint'], 2)} diffs per sprint",
            status(j["diffs_per_sprint_notifier_s"] <= 2 and re_["diffs_per_sprint_notifier_s"] <= 2),
        )
    ]


def presence_details(results: dict[str, Any]) -> str:
    r = results["presence"]
    keys = (
        "seconds",
        "connect_s",
        "notifier_cpu_s",
        "nats_msgs_in",
        "nats_msgs_out",
        "writes",
        "updates",
        "diffs",
        "frames",
    )
    header = "| phase | " + " | ".join(keys) + " |"
    rows = [header, "|" + "---|" * (len(keys) + 1)]
    for phase in ("join", "quiet", "reconnect"):
        rows.append(f"| {phase} | " + " | ".join(f"{r[phase].get(k, '')}" for k in keys) + " |")
    return "\n".join(rows)
