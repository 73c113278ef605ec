"""The WebSocket side: sessions, their index and fan-out; knows nothing of NATS."""

from sprintboard_notifier.hub.delivery import KEY_KINDS, Delivery, KeyKind, SubscriptionKey
from sprintboard_notifier.hub.fanout import EventSource, Hub
from sprintboard_notifier.hub.recent import RecentEvents
from sprintboard_notifier.hub.session import Session
from sprintboard_notifier.source import HistoryGap

__all__ = [
    "KEY_KINDS",
    "Delivery",
    "EventSource",
    "HistoryGap",
    "Hub",
    "KeyKind",
    "RecentEvents",
    "Session",
    "SubscriptionKey",
]
