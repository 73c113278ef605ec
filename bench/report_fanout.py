"""Report rows of the fan-out ladders: ratios only between saturated servers, batched within 50 ms."""

from __future__ import annotations

from typing import Any

from bench.report_shapes import Row, status
from bench.stats import ratio
from bench.tables import n, ranged, x


def _sat(r: dict[str, Any] | None) -> float | None:
    return None if r is None else r.get("saturation_per_s")


def _why_unsaturated(r: dict[str, Any] | None) -> str:
    limits = [limit or "kept up to the ceiling" for limit in (r or {}).get("limits", [])]
    return "/".join(sorted(set(limits))) or "not run"


def _vs(name: str, ours: dict[str, Any] | None, base: dict[str, Any] | None) -> tuple[float | None, str]:
    """A ratio only between two saturated servers; otherwise the baseline's figure and why none."""
    if base is None:
        return None, f"{name} not run"
    if not base.get("saturated"):
        return None, f"{name} {n(_sat(base))} ≥, not saturated ({_why_unsaturated(base)})"
    if ours is None or not ours.get("saturated"):
        return None, f"{name} {n(_sat(base))}"
    r = ratio(_sat(ours), _sat(base))
    return r, f"{x(r)} {name} ({n(_sat(base))})"


def fanout_rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for size, servers in results.get("fanout", {}).items():
        floor, node, wsb = (servers.get(k) for k in ("floor", "node-ws", "websockets"))
        ours, batched = servers.get("notifier"), servers.get("notifier-batched")
        vs_floor, floor_text = _vs("floor", ours, floor)
        vs_node, node_text = _vs("Node ws", ours, node)
        _, wsb_text = _vs("websockets", ours, wsb)
        ok = None if vs_floor is None else vs_floor >= 0.9 and (vs_node is None or vs_node > 1)
        lower = (
            "" if ours is None or ours.get("saturated") else f" ≥ (not saturated: {_why_unsaturated(ours)})"
        )
        rows.append(
            (
                f"Fan-out, single-event frames, {int(size):,} sockets (deliveries/s)",
                "≥ 0.9x floor (both saturated), ahead of Node ws",
                ranged((ours or {}).get("saturation_spread")) + lower,
                ("" if vs_floor is not None else "no ratio; ") + f"{floor_text}; {node_text}; {wsb_text}",
                status(ok),
            )
        )
        fit = (batched or {}).get("within_lag") or {}
        per_s = (fit.get("per_s") or {}).get("median")
        fb = servers.get("floor-batch10")
        fb_fit = ((fb or {}).get("within_lag") or {}).get("per_s")
        rows.append(
            (
                f"Fan-out, batched frames, {int(size):,} sockets "
                "(events/s at the highest rung with p99 lag ≤ 50 ms)",
                "≥ 1,000,000/s, p99 lag ≤ 50 ms",
                f"{ranged(fit.get('per_s'))}, p99 lag {ranged(fit.get('lag_ms_p99'), 1)} ms"
                if per_s is not None
                else "no rung within 50 ms"
                if batched
                else "not run",
                f"floor x10 batch {ranged(fb_fit)} within 50 ms",
                status(None if batched is None else per_s is not None and per_s >= 1_000_000),
            )
        )
    return rows
