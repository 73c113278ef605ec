"""The results as JSON and as the Markdown table of docs/benchmarks.md: each measurement, target and ratio."""

from __future__ import annotations

from typing import Any

from bench.report_capacity import CAPACITY_NOTE, capacity_details, capacity_rows
from bench.report_fanout import fanout_rows
from bench.report_scaleout import (
    LIVEPATH_NOTE,
    SCALEOUT_NOTE,
    livepath_details,
    livepath_rows,
    scaleout_details,
    scaleout_rows,
)
from bench.report_shapes import (
    STORM_NOTE,
    TENANTS_NOTE,
    first_event_rows,
    presence_details,
    presence_rows,
    storm_details,
    storm_rows,
    tenant_details,
    tenant_rows,
)
from bench.stats import ratio
from bench.tables import (
    FRESH_BED,
    connection_details,
    e2e_details,
    fanout_details,
    ingest_details,
    ingest_phases,
    without_writes,
    write_details,
)
from bench.tables import (
    n as _n,
)
from bench.tables import (
    table as _table,
)
from bench.tables import (
    x as _x,
)

Row = tuple[str, str, str, str, str]  # measurement, target, result, vs baseline, status


def _status(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _connection_rows(results: dict[str, Any]) -> list[Row]:
    conns = results.get("connections", {})
    ours = conns.get("notifier")
    if ours is None:
        return [("Idle sockets in one notifier process", "15,000 at ≤ 8 KiB each", "not run", "", "—")]
    others = ", ".join(f"{k} {_n(v['kib_per_socket'], 1)} KiB" for k, v in conns.items() if k != "notifier")
    ok = ours["held"] >= 15_000 and ours["kib_per_socket"] <= 8
    return [
        (
            "Idle sockets in one notifier process",
            "15,000 at ≤ 8 KiB each",
            f"{ours['held']:,} of {ours['attempted']:,} held, {_n(ours['kib_per_socket'], 1)} KiB/socket",
            others,
            _status(ok),
        )
    ]


# The targets: ≤ 2x the floor with no sockets, ≤ 4x with 10k sockets that match no event, ≤ 4x with
# one reading socket per tenant (its writes counted). Matching sockets on top of the 10k are reported, with
# the bare cost of their writes (the write floor) subtracted too.
INGEST_LIMITS = {
    "no sockets": 2.0,
    "10k non-matching sockets": 4.0,
    "1 reading socket per tenant": 4.0,
}


def _ingest_rows(results: dict[str, Any]) -> list[Row]:
    r = results.get("ingest")
    if not r:
        return [("Ingest: notifier CPU per consumed event", "≤ 2x bare nats-py decode", "not run", "", "—")]
    floor = r["floor"]["orjson"]["cpu_us_per_event"]
    rows: list[Row] = []
    for label, p in ingest_phases(r):
        us = p["cpu_us_per_event"]
        limit = INGEST_LIMITS.get(label.removesuffix(FRESH_BED))
        vs = f"{_x(ratio(us, floor))} floor"
        if (bare := without_writes(r, p)) is not None:
            w = f"{p['writes_per_event']:g} x {_n(r['write_us_per_event'], 1)} µs bare write per event"
            vs += f"; {_x(ratio(bare, floor))} without the writes ({w})"
        rows.append(
            (
                f"Ingest, {label}, {r['tenants']:,} tenants (notifier CPU per event)",
                f"≤ {limit:g}x floor" if limit else "reported",
                f"{_n(us, 1)} µs ({_n(p['events_per_core_s'])} events/s per core)",
                f"{vs} ({_n(floor, 1)} µs: nats-py + orjson)",
                _status(None if limit is None else us <= limit * floor),
            )
        )
    return rows


def _durable(w: dict[str, Any]) -> str:
    db = w.get("database") or {}
    if not db:
        return "durability not recorded"
    on = all(v == "on" for v in db.values())
    return ("durable: " if on else "**not durable**: ") + ", ".join(f"{k}={v}" for k, v in db.items())


def _write_rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for c, w in results.get("writes", {}).items():
        http, sql = w["http"], w["sql"]
        ok = http["per_s"] >= 1000 and (http["p95_ms"] or 1e9) <= 25 and (w["ratio_vs_sql"] or 0) >= 0.5
        rows.append(
            (
                f"Mutations through HTTP, {c} connections ({_durable(w)})",
                "≥ 1,000/s, p95 ≤ 25 ms, ≥ 0.5x raw SQL",
                f"{_n(http['per_s'])}/s, p95 {_n(http['p95_ms'], 1)} ms",
                f"{_x(w['ratio_vs_sql'])} SQL ({_n(sql['per_s'])}/s, p95 {_n(sql['p95_ms'], 1)} ms)",
                _status(ok),
            )
        )
        relay = w["relay"]
        lag = relay.get("notifier_lag_ms_p99")
        rows.append(
            (
                f"Mutation → notifier's socket write at the HTTP write rate, {c} connections",
                "p99 < 50 ms",
                f"p99 {_n(lag, 1)} ms (`notifier_delivery_lag_seconds`: event timestamp → frame written)",
                # The event's timestamp is the mutation's, so the span holds the relay's insert → ack too.
                f"of it outbox insert → ack p99 {_n(relay['rows_ms']['p99'], 1)} ms",
                _status(None if lag is None else lag < 50),
            )
        )
        at_db = w.get("relay_at_sql_rate")
        if at_db is None:
            continue
        drained = at_db["drain_seconds_after"]  # 0.0 (nothing left to drain) is the best case
        keeps = at_db["relayed_per_s"] >= 0.95 * sql["per_s"] and drained is not None and drained < 1
        rows.append(
            (
                f"Relay at the database's own rate (raw SQL writers), {c} connections",
                "keeps up (≥ 0.95x, drained < 1 s after)",
                f"{_n(at_db['relayed_per_s'])}/s relayed, insert → ack p99 "
                f"{_n(at_db['relay_lag_ms_p99'], 1)} ms (histogram), drained {drained} s after",
                f"{_x(ratio(at_db['relayed_per_s'], sql['per_s']))} SQL write rate ({_n(sql['per_s'])}/s); "
                f"at the HTTP rate {_x(ratio(relay['relayed_per_s'], http['per_s']))}",
                _status(keeps),
            )
        )
    return rows


def _latency_rows(results: dict[str, Any]) -> list[Row]:
    e2e = results.get("e2e", {})
    rows: list[Row] = []
    for label, limit, frames in (
        ("light", 15, "single-event frames"),
        ("loaded-batched", 50, "batched frames"),
        ("loaded-single", 50, "single-event frames"),
    ):
        r = e2e.get(label)
        if r is None:
            rows.append((f"End-to-end latency, {label}", f"p99 ≤ {limit} ms", "not run", "", "—"))
            continue
        ms = r["e2e_ms"]
        cut = "≥ " if r["matched_frames"] < r.get("expected_frames", 0) else ""
        rows.append(
            (
                f"End-to-end, {r['offered_per_s']:.0f} mutations/s, {r['sockets']:,} sockets, {frames}",
                f"p99 ≤ {limit} ms",
                f"p50 {_n(ms['p50'], 1)} / p95 {_n(ms['p95'], 1)} / p99 {cut}{_n(ms['p99'], 1)} ms",
                f"{r.get('answered_mutations', 0):,} mutations x "
                f"{r.get('sampled_sockets', 0)} sampled sockets: "
                f"{r['matched_frames']:,} of {r.get('expected_frames', 0):,} frames arrived "
                f"({r.get('negative_latencies', 0):,} before their response's headers); "
                f"HTTP p95 {_n(r['http_ms']['p95'], 1)} ms",
                _status(None if ms["p99"] is None else ms["p99"] <= limit),
            )
        )
    light = e2e.get("light")
    if light is not None:
        rows_ms = light.get("relay_rows_ms") or {}
        p99 = rows_ms.get("p99")
        rows.append(
            (
                "Relay, outbox insert → JetStream ack, light load",
                "p99 ≤ 5 ms",
                f"p50 {_n(rows_ms.get('p50'), 2)} / p99 {_n(p99, 2)} ms (outbox rows)",
                f"histogram p50 {_n(light['relay_lag_ms_p50'], 2)} / p99 {_n(light['relay_lag_ms_p99'], 2)}",
                _status(None if p99 is None else p99 <= 5),
            )
        )
    return rows


FANOUT_NOTE = (
    "A rising-rate ladder per server: each offered rate runs once (no second try); the ladder ends at",
    "the first step that delivers < 85 % of what was offered or drops sockets, and rises past the plan's",
    "rungs (x1.5, up to 8x the last) until one does. That step says what ran out: `clients` when a",
    "load-client process used ≥ 90 % of a core (the server's own limit is then unknown), else `server`:",
    "saturated. Ratios are given only between servers saturated in every repeat; figures are the median",
    "[min, max] of the repeats. Lag runs from the event's `timestamp` to its arrival at a client: the",
    "baselines stamp it inside the server, our notifier's publisher before JetStream (so that hop is in",
    "it). Batched throughput is read at the highest rung delivered in full with p99 lag ≤ 50 ms.",
    "Baselines: `floor` is a bare uvloop protocol writing one pre-built frame per socket, `websockets`",
    "its `broadcast()`, `node-ws` a minimal Node.js `ws` server; `floor-batch10` puts ten events in a frame.",
)
INGEST_NOTE = (
    "One notifier of its own (`python -m sprintboard_notifier`, default settings) on its own NATS; valid",
    "`ownership_taken` events over the tenants published into `BACKLOG_TASKS` until",
    "`notifier_events_received_total` has counted them all: the notifier process's CPU time / events.",
    "Sockets are added phase by phase (non-matching ones follow a sprint no event names, matching ones",
    "their tenant's sprint: each event is written to as many sockets as its tenant has matching ones).",
    "The floor is a bare nats-py ordered consumer with a callback reading the same stored events, in the",
    "same run. Then, with the notifier stopped and 1 socket per tenant connected to the floor's process",
    "(a hand-written upgrade), the floor consumes live while as many fresh events are published as in a",
    "phase: decode_event only, then decode_event and one unmasked text frame of the event written to its",
    "tenant's socket (`transport.write`); the difference is W, the bare cost of one socket write. Rows",
    "with matching sockets also show their cost less writes/event x W. The `(fresh bed)` phases run last",
    "on a second NATS and notifier: no sockets, then 1 socket per tenant reading its tenant's events.",
)
CONNECTIONS_NOTE = (
    "Idle sockets (authenticated and subscribed where the server has a protocol), held a few seconds;",
    "the growth of the server process's RSS divided by the sockets it holds.",
)
WRITES_NOTE = (
    "Closed loop, one keep-alive connection per task, each cycling take → start → pause → release;",
    "the SQL baseline runs the same statements and outbox insert straight through asyncpg.",
)
E2E_NOTE = (
    "From the arrival of a mutation's HTTP response headers to the arrival of its event frame at each",
    "sampled socket (both read CLOCK_REALTIME on this host). A frame can arrive before its response's",
    "headers are read — the relay publishes at commit while the response is still on its way — so",
    "negative values occur; they are counted (column `< 0`) and kept in the percentiles.",
)


def _commit(commit: str) -> str:
    if commit.endswith("+dirty"):
        return f"`{commit}` — **uncommitted changes: these figures are not of that commit**"
    return f"`{commit}`"


PRESENCE_NOTE = [
    "`bench/presence.py`: its own NATS and two notifiers (default settings), every socket a user of its",
    "own in one of the sprints, half on each notifier. join: all connect at once, until the diffs stop;",
    "quiet: 10 s with nothing changing (heartbeats only); reconnect: every socket closes and connects",
    "again at once (within the grace).",
    "CPU is both notifier processes; NATS messages are the server's `/varz` counts over the phase.",
]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    machine = _table(
        ("machine", ""),
        [
            ("date", m["date"]),
            ("commit", _commit(m["commit"])),
            ("CPU", f"{m['nproc']} x {m['cpu']}"),
            ("memory", f"{m['memory_gib']} GiB"),
            ("kernel / Python", f"{m['kernel']} / {m['python']}"),
            ("load average at start", " ".join(str(x) for x in m["load_avg_at_start"])),
            ("plan", f"{results['plan']} ({results['duration_s']:.0f} s)"),
            ("baseline event size", f"{results.get('settings', {}).get('frame_bytes', '?')} bytes (as ours)"),
        ],
    )
    rows = (
        _ingest_rows(results)
        + _latency_rows(results)
        + tenant_rows(results)
        + storm_rows(results)
        + scaleout_rows(results)
        + capacity_rows(results)
        + livepath_rows(results)
        + presence_rows(results)
        + first_event_rows(results)
        + fanout_rows(results)
        + _connection_rows(results)
        + _write_rows(results)
    )
    summary = _table(("measurement", "target", "result", "vs baseline (same run)", "status"), rows)
    parts = [
        "# Benchmarks",
        "",
        f"Written by `python -m bench` (`make bench`); every number is in `{results.get('output', '?')}`.",
        "Clients run on the same machine as the servers, in separate processes; fan-out numbers are medians",
        f"of {results['repeats']} run(s) of each ladder [min, max]; ratios are against baselines of the",
        "same run, and only between servers that both ran out of their own core (saturated). The stack's",
        "PostgreSQL is durable (fsync, synchronous_commit, full_page_writes on, as the writes rows report).",
        "",
        machine,
        "",
        "## Targets",
        "",
        summary,
    ]
    if results.get("ingest"):
        parts += ["", "## Ingest", "", *INGEST_NOTE, "", ingest_details(results)]
    if results.get("tenants"):
        parts += ["", "## Many tenants", "", *TENANTS_NOTE, "", tenant_details(results)]
    if results.get("storm"):
        parts += ["", "## Reconnect storm", "", *STORM_NOTE, "", storm_details(results)]
    if results.get("scaleout"):
        parts += ["", "## Scale-out", "", *SCALEOUT_NOTE, "", scaleout_details(results)]
    if results.get("capacity"):
        parts += ["", "## Capacity at saturation", "", *CAPACITY_NOTE, "", capacity_details(results)]
    if results.get("livepath"):
        parts += ["", "## Live path on NATS", "", *LIVEPATH_NOTE, "", livepath_details(results)]
    if results.get("presence"):
        parts += ["", "## Presence", "", *PRESENCE_NOTE, "", presence_details(results)]
    if results.get("fanout"):
        parts += ["", "## Fan-out", "", *FANOUT_NOTE, "", fanout_details(results)]
    if results.get("connections"):
        parts += ["", "## Connections", "", *CONNECTIONS_NOTE, "", connection_details(results)]
    if results.get("writes"):
        parts += ["", "## Writes", "", *WRITES_NOTE, "", write_details(results)]
    if results.get("e2e"):
        parts += ["", "## End-to-end", "", *E2E_NOTE, "", e2e_details(results)]
    if results.get("errors"):
        parts += ["", "## Not measured", ""] + [f"- {k}: {v}" for k, v in results["errors"].items()]
    return "\n".join(parts) + "\n"
