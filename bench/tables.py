"""Detail tables of the report: fan-out per server, connections, writes and end-to-end latency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.ingest import LIVE_DECODE, WRITE_FLOOR
from bench.stats import ratio


def n(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def cpu(step: dict[str, Any]) -> str:
    kernel = (step.get("server_kernel_share") or 0) * 100
    return f"{n(step.get('server_cpu_pct'))} % ({n(kernel)} % kernel)"


def ranged(s: dict[str, Any] | None, digits: int = 0, fmt: Callable[[float], str] | None = None) -> str:
    """median [min, max] of repeated runs, each as `fmt` writes it (default: `n` with `digits`)."""
    if not s or s.get("median") is None:
        return "—"
    f = fmt or (lambda v: n(v, digits))
    if s["min"] == s["max"]:
        return f(s["median"])
    return f"{f(s['median'])} [{f(s['min'])}, {f(s['max'])}]"


def fanout_details(results: dict[str, Any]) -> str:
    rows = []
    for size, servers in results.get("fanout", {}).items():
        floor = servers.get("floor") or {}
        for name, r in servers.items():
            top = max(r["steps"], key=lambda s: s["deliveries_per_s"]) if r["steps"] else {}
            both = r.get("saturated") and floor.get("saturated")
            fit = r.get("within_lag") or {}
            rows.append(
                (
                    f"{int(size):,}",
                    name,
                    ranged(r.get("saturation_spread")) + ("" if r.get("saturated") else " ≥"),
                    "/".join(str(limit or "none") for limit in r.get("limits", [])),
                    x(ratio(r["saturation_per_s"], floor.get("saturation_per_s"))) if both else "—",
                    f"{ranged(fit.get('per_s'))} @ {ranged(fit.get('lag_ms_p99'), 1)} ms",
                    n(top.get("lag_ms_p99"), 1),
                    cpu(top),
                    n(top.get("busiest_client_cpu_pct")),
                )
            )
    header = (
        "sockets",
        "server",
        "deliveries/s, median [min, max]",
        "limit per repeat",
        "vs floor",
        "deliveries/s with p99 lag ≤ 50 ms @ lag",
        "p99 lag ms at peak",
        "server CPU at peak",
        "busiest client CPU %",
    )
    return table(header, rows)


def connection_details(results: dict[str, Any]) -> str:
    rows = []
    conns = results.get("connections", {})
    node = (conns.get("node-ws") or {}).get("kib_per_socket")
    for name, r in conns.items():
        rows.append(
            (
                name,
                f"{r['held']:,} / {r['attempted']:,}",
                n(r["kib_per_socket"], 1),
                x(ratio(r["kib_per_socket"], node)),
                f"{n(r['rss_base_mib'], 1)} → {n(r['rss_mib'], 1)}",
                n(r["idle_cpu_pct"], 1),
                ", ".join(f"{k}: {v}" for k, v in r["close_reasons"].items()) or "—",
            )
        )
    header = ("server", "held / tried", "KiB/socket", "vs Node ws", "RSS MiB", "idle CPU %", "closes")
    return table(header, rows)


def write_details(results: dict[str, Any]) -> str:
    rows = []
    for c, w in results.get("writes", {}).items():
        for path in ("http", "sql"):
            r = w[path]
            kinds = ", ".join(f"{k} {n(v['p95'], 1)}" for k, v in sorted(r["by_kind"].items()))
            rows.append(
                (
                    c,
                    "HTTP API" if path == "http" else "asyncpg, same SQL",
                    n(r["per_s"]),
                    f"{n(r['p50_ms'], 1)} / {n(r['p95_ms'], 1)} / {n(r['p99_ms'], 1)}",
                    kinds,
                    str(sum(r["failures"].values())),
                    n(w["relay"].get("notifier_lag_ms_p99"), 1) if path == "http" else "—",
                )
            )
    header = (
        "connections",
        "path",
        "mutations/s",
        "p50 / p95 / p99 ms",
        "p95 ms by kind",
        "failures",
        "notifier lag p99 ms",
    )
    return table(header, rows)


def e2e_details(results: dict[str, Any]) -> str:
    rows = []
    for label, r in results.get("e2e", {}).items():
        ms, http = r["e2e_ms"], r["http_ms"]
        rows.append(
            (
                label,
                f"{r['sockets_open']:,}",
                f"{n(r['mutations_per_s'], 1)} / {n(r['offered_per_s'])}",
                f"{n(ms['p50'], 1)} / {n(ms['p95'], 1)} / {n(ms['p99'], 1)}",
                f"{n(http['p50'], 1)} / {n(http['p95'], 1)}",
                f"{n(r['relay_lag_ms_p50'], 1)} / {n(r['relay_lag_ms_p99'], 1)}",
                f"{r.get('answered_mutations', 0):,}",
                f"{r.get('sampled_sockets', 0):,}",
                f"{ms['n']:,} / {r.get('expected_frames', 0):,}",
                f"{r.get('negative_latencies', 0):,}",
            )
        )
    header = (
        "case",
        "sockets",
        "mutations/s done / offered",
        "e2e p50 / p95 / p99 ms",
        "HTTP p50 / p95 ms",
        "relay histogram p50 / p99 ms",
        "mutations answered",
        "sampled sockets",
        "frames matched / expected",
        "< 0",
    )
    return table(header, rows)


FLOOR_LABELS = {
    "orjson": "floor: nats-py + orjson",
    "decode_event": "nats-py + decode_event (msgspec)",
    "parse_event": "nats-py + orjson + parse_event (pydantic)",
    LIVE_DECODE: "nats-py + decode_event, live as a phase (1 idle socket per tenant)",
    WRITE_FLOOR: "write floor: the same + 1 frame written to the tenant's socket",
}


FRESH_BED = " (fresh bed)"  # the label suffix of the reading phases, run on a second bed


def ingest_phases(r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, phase) of the first bed in the order they ran, then of the fresh bed's reading phases."""

    def ordered(section: dict[str, Any], suffix: str = "") -> list[tuple[str, dict[str, Any]]]:
        phases = section.get("phases", {})
        labels = section.get("order") or list(phases)
        return [(label + suffix, phases[label]) for label in labels if label in phases]

    return ordered(r) + ordered(r.get("reading") or {}, FRESH_BED)


def without_writes(r: dict[str, Any], p: dict[str, Any]) -> float | None:
    """The phase's CPU µs/event less the bare cost of its socket writes (writes/event x W); None when the
    phase writes nothing or the run has no write floor."""
    writes, w = p.get("writes_per_event") or 0, r.get("write_us_per_event")
    return None if not writes or w is None else p["cpu_us_per_event"] - writes * w


def ingest_details(results: dict[str, Any]) -> str:
    r = results.get("ingest", {})
    floor = (r.get("floor") or {}).get("orjson", {}).get("cpu_us_per_event")
    rows = []
    for label, p in ingest_phases(r):
        bare = without_writes(r, p)
        rows.append(
            (
                label,
                f"{p['sockets']:,}",
                n(p["cpu_us_per_event"], 1),
                f"{n(100 * p.get('kernel_share', 0))} %",
                x(ratio(p["cpu_us_per_event"], floor))
                + ("" if bare is None else f" ({x(ratio(bare, floor))} without the writes)"),
                n(p["events_per_core_s"]),
                f"{n(p['published_s'], 1)} / {n(p['consumed_s'], 1)}",
            )
        )
    floors = r.get("floor") or {}
    # The JSON's keys are sorted: the floors in FLOOR_LABELS' order (the write floor after its decode).
    for check in sorted(floors, key=lambda c: list(FLOOR_LABELS).index(c) if c in FLOOR_LABELS else 99):
        f, label = floors[check], FLOOR_LABELS.get(check, check)
        rows.append(
            (
                label,
                f"{f['sockets']:,}" if "sockets" in f else "—",
                n(f["cpu_us_per_event"], 1),
                "—",
                x(ratio(f["cpu_us_per_event"], floor)),
                n(1e6 / f["cpu_us_per_event"]),
                f"{n(f.get('published_s'), 1)} / {n(f['seconds'], 1)}",
            )
        )
    if (w := r.get("write_us_per_event")) is not None:
        label = "W: one bare socket write (write floor minus live decode_event)"
        rows.append((label, "—", n(w, 1), "—", x(ratio(w, floor)), "—", "—"))
    header = (
        "case",
        "sockets",
        "CPU µs/event",
        "kernel",
        "vs floor",
        "events/s per core",
        "published / consumed s",
    )
    return table(header, rows)
