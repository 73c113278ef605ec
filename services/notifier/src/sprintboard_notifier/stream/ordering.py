"""The delivery order of one ephemeral push consumer: what is next, what came before, where a gap is."""

from __future__ import annotations

NEXT = 0  # hand it on
OLD = 1  # at or below the cursor: already handed on (a consumer recreated from an earlier point)
GAP = 2  # the consumer skipped a delivery (a slow-consumer drop, a lost connection): start over

ACK_PREFIX = "$JS.ACK."


def delivery_seqs(reply: str) -> tuple[int, int]:
    """(stream seq, consumer seq) from a JetStream delivery's reply subject, in either form:
    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>` or, with a
    domain and account hash after `ACK`, two tokens further on."""
    tokens = reply.split(".")
    at = 5 if len(tokens) == 9 else 7
    return int(tokens[at]), int(tokens[at + 1])


class DeliveryOrder:
    """`cursor` is the stream seq of the last message handed on; `delivered` the consumer seq of the
    current consumer's last delivery (every new consumer counts from 1)."""

    __slots__ = ("cursor", "delivered")

    def __init__(self, cursor: int = 0) -> None:
        self.cursor = cursor
        self.delivered = 0

    def restart(self) -> int:
        """A new consumer: the stream seq it starts at, right after the cursor."""
        self.delivered = 0
        return self.cursor + 1

    def take(self, stream_seq: int, consumer_seq: int) -> int:
        """NEXT, OLD or GAP for one delivery; only NEXT moves the cursor."""
        if consumer_seq != self.delivered + 1:
            return GAP
        self.delivered = consumer_seq
        if stream_seq <= self.cursor:
            return OLD
        self.cursor = stream_seq
        return NEXT

    def missed(self, last_consumer_seq: int) -> bool:
        """An idle heartbeat's `Nats-Last-Consumer`: whether the consumer sent more than arrived."""
        return last_consumer_seq != self.delivered
