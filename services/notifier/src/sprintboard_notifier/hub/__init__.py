"""The socket side without sockets: sessions, their index and fan-out, resume; knows nothing of NATS and
nothing of WebSockets (frames leave through each session's `Outlet`)."""

from sprintboard_notifier.hub.delivery import KEY_KINDS, Delivery, KeyKind, SubscriptionKey
from sprintboard_notifier.hub.fanout import EventSource, Hub
from sprintboard_notifier.hub.ledger import SentLedger
from sprintboard_notifier.hub.recent import RecentEvents
from sprintboard_notifier.hub.session import Outlet, Session
from sprintboard_notifier.source import HistoryGap

__all__ = [
    "KEY_KINDS",
    "Delivery",
    "EventSource",
    "HistoryGap",
    "Hub",
    "KeyKind",
    "Outlet",
    "RecentEvents",
    "SentLedger",
    "Session",
    "SubscriptionKey",
]
