"""The NATS side, no sockets: the live follower of the task stream and the reader of what it keeps."""

from sprintboard_notifier.stream.follower import StreamFollower
from sprintboard_notifier.stream.history import StoredMessage, StreamHistory
from sprintboard_notifier.stream.live import LiveFollower

__all__ = ["LiveFollower", "StoredMessage", "StreamFollower", "StreamHistory"]
