"""Presence (spec §4): who has a sprint's board open, per user, across instances; soft state in NATS
key-value buckets (entries written on change, one heartbeat per instance). Knows nothing of sockets: a
watcher is a `send` callable."""

from sprintboard_notifier.presence.metrics import PresenceCollector
from sprintboard_notifier.presence.settings import PresenceSettings, PresenceStats
from sprintboard_notifier.presence.tracker import Presence, Watch
from sprintboard_notifier.presence.view import Viewer
from sprintboard_notifier.presence.viewing import Viewing

__all__ = ["Presence", "PresenceCollector", "PresenceSettings", "PresenceStats", "Viewer", "Viewing", "Watch"]
