"""What the hub moves: an event as the hub sees it, and server frames serialized once and shared."""

from __future__ import annotations

from datetime import datetime
from struct import pack
from typing import Any, Literal

import msgspec
import orjson

KeyKind = Literal["sprint", "project", "story"]
SubscriptionKey = tuple[KeyKind, str]
KEY_KINDS: tuple[KeyKind, ...] = ("sprint", "project", "story")


Routes = tuple[SubscriptionKey | None, SubscriptionKey | None, SubscriptionKey | None]


class Delivery(msgspec.Struct, gc=False):
    """One stored event: its stream sequence, what it is routed by, and its JSON body (an object: the
    published bytes, forwarded as they are, or a decoded dict).

    Built once per consumed event, so it is as cheap as it can be: a msgspec struct (built in C), never
    tracked by the garbage collector (it holds strings, bytes, a frame: nothing that leads back to it),
    and the ids are lowercased only when something routes it (most events reach no socket here)."""

    seq: int
    tenant_id: str
    project_id: str | None  # the ids as published: the contract's UUIDs may be uppercase
    sprint_id: str | None
    story_id: str | None
    stamp: str  # the event's RFC 3339 `timestamp`, parsed only when a live frame needs it
    body: bytes | dict[str, Any]
    # While the hub's memory holds it: the live frame's text, then its replay frame (`recent.replay_frame`).
    kept: str | Frame | None = None
    routing: Routes | None = None  # `routes()`, made on first use

    @property
    def timestamp(self) -> float:
        """POSIX seconds of `stamp` (most events reach no socket here, so none of them pays for this)."""
        return datetime.fromisoformat(self.stamp).timestamp()

    def routes(self) -> Routes:
        """The subscription keys it matches, ids in lowercase as subscriptions are."""
        if self.routing is not None:
            return self.routing
        sprint, project, story = self.sprint_id, self.project_id, self.story_id
        routing: Routes = (
            ("sprint", sprint.lower()) if sprint else None,
            ("project", project.lower()) if project else None,
            ("story", story.lower()) if story else None,
        )
        self.routing = routing
        return routing

    def matches(self, keys: frozenset[SubscriptionKey] | None) -> bool:
        """None means tenant-wide (a socket without subscriptions)."""
        if keys is None:
            return True
        return any(k in keys for k in self.routes() if k is not None)


def ws_text_frame(data: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    n = len(data)
    if n < 126:
        return pack("!BB", 0x81, n) + data
    if n < 1 << 16:
        return pack("!BBH", 0x81, 126, n) + data
    return pack("!BBQ", 0x81, 127, n) + data


def _with_position(body: bytes, seq: int, epoch: str) -> bytes | None:
    """The published object with `seq` and `epoch` appended, spliced rather than re-serialized; None when
    the body already names either key (the decoded path then replaces them)."""
    end = body.rstrip()
    if not end.endswith(b"}") or b'"seq"' in body or b'"epoch"' in body:
        return None
    return end[:-1] + b',"seq":%d,"epoch":%b}' % (seq, orjson.dumps(epoch))


# Identical batches (same frames in the same order, e.g. every socket on one sprint) share one Frame.
_BATCHES: dict[tuple[Frame, ...], Frame] = {}
_BATCH_CACHE = 256


class Frame:
    """A server frame's text; the same object is queued on every socket it goes to."""

    __slots__ = ("_data", "_wire", "batched", "observed", "seq", "text", "timestamp")

    def __init__(self, text: str, seq: int | None = None, timestamp: float | None = None) -> None:
        self.text = text
        self.seq = seq
        # Only live event frames carry a timestamp: the delivery-lag histogram is about live events.
        self.timestamp = timestamp
        # The lag is observed once per frame (when its first copy is written), not once per socket.
        self.observed = False
        self.batched = False  # a `batch` frame: already wrapped, never wrapped again
        self._data: bytes | None = None
        self._wire: bytes | None = None

    @property
    def data(self) -> bytes:
        """UTF-8 bytes, encoded once, for transports that can send bytes as a text frame."""
        if self._data is None:
            self._data = self.text.encode()
        return self._data

    @property
    def wire(self) -> bytes:
        """The whole WebSocket frame (header and payload), built once and written to every socket as is."""
        if self._wire is None:
            self._wire = ws_text_frame(self.data)
        return self._wire

    @property
    def is_event(self) -> bool:
        return self.seq is not None and not self.batched

    @classmethod
    def control(cls, payload: dict[str, Any]) -> Frame:
        return cls(orjson.dumps(payload).decode())

    @classmethod
    def event(cls, delivery: Delivery, epoch: str, live: bool) -> Frame:
        body, stamp = delivery.body, delivery.timestamp if live else None
        if isinstance(body, bytes):
            data = _with_position(body, delivery.seq, epoch)
            if data is not None:
                frame = cls(data.decode(), delivery.seq, stamp)
                frame._data = data
                return frame
            body = orjson.loads(body)
        payload = dict(body)
        payload["seq"] = delivery.seq
        payload["epoch"] = epoch
        return cls(orjson.dumps(payload).decode(), delivery.seq, stamp)

    @classmethod
    def batch(cls, frames: list[Frame]) -> Frame:
        """Splices already-serialized events, so batching costs no re-serialization; shared when identical."""
        key = tuple(frames)
        cached = _BATCHES.get(key)
        if cached is not None:
            return cached
        text = '{"type":"batch","events":[' + ",".join(f.text for f in frames) + "]}"
        stamps = [f.timestamp for f in frames if f.timestamp is not None]
        # A batch's lag is its oldest live event's.
        frame = cls(text, frames[-1].seq, min(stamps) if stamps else None)
        frame.batched = True
        if len(_BATCHES) >= _BATCH_CACHE:
            _BATCHES.clear()
        _BATCHES[key] = frame
        return frame


def batch_frames(frames: list[Frame], max_events: int, limit: int) -> list[Frame]:
    """Runs of event frames become batch frames (at most `max_events` and about `limit` bytes each);
    control frames and already-built batches keep their place between them."""
    out: list[Frame] = []
    run: list[Frame] = []
    size = 0
    for frame in frames:
        if not frame.is_event:
            if run:
                out.append(Frame.batch(run))
                run, size = [], 0
            out.append(frame)
            continue
        if run and (len(run) >= max_events or size + len(frame.text) >= limit):
            out.append(Frame.batch(run))
            run, size = [], 0
        run.append(frame)
        size += len(frame.text) + 1
    if run:
        out.append(Frame.batch(run))
    return out


HEARTBEAT = Frame.control({"type": "heartbeat"})
