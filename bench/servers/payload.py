"""Synthetic events of a given size for the baselines: an `event_id`, a `timestamp` (send time), padding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson


def event(n: int, size: int) -> bytes:
    """One JSON event of about `size` bytes; the client reads lag from its `timestamp`."""
    head = {
        "type": "bench",
        "event_id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "n": n,
        "pad": "",
    }
    raw = orjson.dumps(head)
    pad = max(0, size - len(raw))
    head["pad"] = "x" * pad
    return orjson.dumps(head)


def message(n: int, size: int, batch: int) -> bytes:
    """A single event, or `batch` events spliced into one `{"type":"batch","events":[...]}` frame."""
    if batch <= 1:
        return event(n, size)
    return b'{"type":"batch","events":[' + b",".join(event(n + i, size) for i in range(batch)) + b"]}"
