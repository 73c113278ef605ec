"""Reading a service's Prometheus `/metrics`: counters, gauges and quantiles of a histogram's increase."""

from __future__ import annotations

import math
import re

import httpx

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LE = re.compile(r'le="([^"]+)"')


async def scrape(base_url: str) -> dict[str, float]:
    """Every sample as `name{labels}` -> value (labels verbatim, as the exposition writes them)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{base_url}/metrics")).text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def buckets(samples: dict[str, float], name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram, sorted by bound."""
    found = []
    for key, value in samples.items():
        if key.startswith(f"{name}_bucket"):
            le = _LE.search(key)
            if le:
                found.append((math.inf if le.group(1) == "+Inf" else float(le.group(1)), value))
    return sorted(found)


def delta_quantile(before: dict[str, float], after: dict[str, float], name: str, q: float) -> float | None:
    """Quantile (0..1) of the observations made between two scrapes, interpolated inside its bucket."""
    b0 = dict(buckets(before, name))
    rows = [(le, count - b0.get(le, 0.0)) for le, count in buckets(after, name)]
    if not rows or rows[-1][1] <= 0:
        return None
    rank = q * rows[-1][1]
    lower, below = 0.0, 0.0
    for le, cum in rows:
        if cum >= rank:
            if math.isinf(le):
                return lower
            share = (rank - below) / (cum - below) if cum > below else 1.0
            return lower + (le - lower) * share
        lower, below = le, cum
    return None


def delta(before: dict[str, float], after: dict[str, float], key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)
