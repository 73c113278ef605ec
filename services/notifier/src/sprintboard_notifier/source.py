"""What the stream side and the hub share: `HistoryGap`, a stored range that cannot be replayed whole."""


class HistoryGap(Exception):
    """The stored events cannot be replayed whole (too old, another stream, a read that failed or stalled)."""
