"""The WebSocket side: sessions, their index and fan-out; knows nothing of NATS."""

from sprintboard_notifier.hub.fanout import SLOW_CLIENT, EventSource, Hub
from sprintboard_notifier.hub.frames import (
    HEARTBEAT,
    KEY_KINDS,
    Delivery,
    Frame,
    KeyKind,
    SubscriptionKey,
    batch_frames,
)
from sprintboard_notifier.hub.recent import RecentEvents
from sprintboard_notifier.hub.session import Session
from sprintboard_notifier.source import HistoryGap

__all__ = [
    "HEARTBEAT",
    "KEY_KINDS",
    "SLOW_CLIENT",
    "Delivery",
    "EventSource",
    "Frame",
    "HistoryGap",
    "Hub",
    "KeyKind",
    "RecentEvents",
    "Session",
    "SubscriptionKey",
    "batch_frames",
]
