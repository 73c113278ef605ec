"""Reads every message of the task stream back, for tests and tools that check what reached JetStream."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nats
from nats.js.errors import NotFoundError

from sprintboard_contracts.subjects import STREAM_NAME


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    subject: str
    msg_id: str | None
    data: dict[str, Any]


async def read_stream(
    nats_url: str | list[str],
    subject_filter: str | None = None,
    *,
    from_leader: bool = False,
    stream: str = STREAM_NAME,
) -> list[StoredEvent]:
    """All stored messages of `stream` in stream order (optionally only one subject filter). `from_leader`
    asks the stream leader for each message, not a replica that may lag behind (on a cluster, after a
    failover). The v1 stream has no direct get: it is always read from its leader."""
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=5)
    try:
        js = nc.jetstream(timeout=5)
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        out: list[StoredEvent] = []
        for seq in range(max(1, info.state.first_seq), info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq, direct=not from_leader and stream == STREAM_NAME)
            except NotFoundError:
                continue
            subject = msg.subject or ""
            if subject_filter and not _matches(subject_filter, subject):
                continue
            headers = msg.headers or {}
            out.append(StoredEvent(seq, subject, headers.get("Nats-Msg-Id"), json.loads(msg.data or b"{}")))
        return out
    finally:
        await nc.close()


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)
