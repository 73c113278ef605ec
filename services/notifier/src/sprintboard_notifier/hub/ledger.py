"""What one socket was already sent, as ranges of stream seqs: what makes a resume gap-free and
duplicate-free across filter changes, replays and the live feed."""

from __future__ import annotations

from sprintboard_notifier.hub.delivery import Delivery, SubscriptionKey

# Each subscribe/unsubscribe/resume adds a segment; a bound keeps an abusive client from growing it.
MAX_SEGMENTS = 64
Segment = tuple[int, int, frozenset[SubscriptionKey] | None]


class SentLedger:
    """(lo, hi] ranges of seqs in which every event matching the keys was already sent (or the client said
    it has them); replays and live events consult it so nothing goes twice."""

    __slots__ = ("_segments", "ceiling", "live_lo")

    def __init__(self, cursor: int) -> None:
        self._segments: list[Segment] = []
        # Where the socket's current filters started sending live (what they sent since is not yet a segment).
        self.live_lo = cursor
        # The highest seq the client said it has: live events above it need no look-up.
        self.ceiling = 0

    def live_until(self, cursor: int, keys: frozenset[SubscriptionKey] | None, sent: bool) -> None:
        """The filters `keys` stop at `cursor`: what they let through live since `live_lo` counts as sent
        (unless nothing went out: `sent` False while the socket's events were held)."""
        if sent and cursor > self.live_lo:
            self.remember(self.live_lo, cursor, keys)
        self.live_lo = cursor

    def claim(self, upto: int, keys: frozenset[SubscriptionKey] | None) -> None:
        """The client says it has every matching event up to `upto` (its resume point)."""
        self.remember(-1, upto, keys)
        self.ceiling = max(self.ceiling, upto)

    def remember(self, lo: int, hi: int, keys: frozenset[SubscriptionKey] | None) -> None:
        if hi <= lo:
            return
        self._segments.append((lo, hi, keys))
        if len(self._segments) > MAX_SEGMENTS:
            del self._segments[0]

    def already_sent(self, d: Delivery) -> bool:
        return any(lo < d.seq <= hi and d.matches(keys) for lo, hi, keys in self._segments)
