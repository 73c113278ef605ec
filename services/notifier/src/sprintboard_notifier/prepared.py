"""A prepared message: a server frame serialized once (its text, then its whole WebSocket frame bytes) and
the same object handed to every socket it goes to, however many."""

from __future__ import annotations

import functools
from struct import pack
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from sprintboard_notifier.hub.delivery import Delivery


def ws_text_frame(data: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    n = len(data)
    if n < 126:
        return pack("!BB", 0x81, n) + data
    if n < 1 << 16:
        return pack("!BBH", 0x81, 126, n) + data
    return pack("!BBQ", 0x81, 127, n) + data


@functools.lru_cache(maxsize=8)  # a stream is rarely recreated: a few epochs at most
def _epoch_tail(epoch: str) -> bytes:
    """`,"epoch":"…"}`: the same bytes for every event of a stream, so built once per epoch."""
    return b',"epoch":' + orjson.dumps(epoch) + b"}"


def _with_position(body: bytes, seq: int, epoch: str) -> bytes | None:
    """The published object with `seq` and `epoch` appended, spliced rather than re-serialized; None when
    the body already names either key (the decoded path then replaces them)."""
    if body[-1:] != b"}":  # published JSON ends with its object; whitespace after it is rare
        body = body.rstrip()
        if body[-1:] != b"}":
            return None
    if b'"seq"' in body or b'"epoch"' in body:
        return None
    return body[:-1] + b',"seq":%d' % seq + _epoch_tail(epoch)


class Frame:
    """A server frame's text and, built on first use, its whole WebSocket frame bytes: the same object is
    queued on every socket it goes to. An event frame has its stream `seq`; a live one its timestamp."""

    __slots__ = ("_data", "_wire", "observed", "seq", "text", "timestamp")

    def __init__(self, text: str, seq: int | None = None, timestamp: float | None = None) -> None:
        self.text = text
        self.seq = seq
        # Only live event frames carry a timestamp: the delivery-lag histogram is about live events.
        self.timestamp = timestamp
        # The lag is observed once per frame (when its first copy is written), not once per socket.
        self.observed = False
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
        """`{"type":"batch","events":[...]}` spliced from already-serialized events (no re-serialization).
        Not an event itself: no seq, and its events' lag is observed on the events."""
        return cls('{"type":"batch","events":[' + ",".join(f.text for f in frames) + "]}")


HEARTBEAT = Frame.control({"type": "heartbeat"})
