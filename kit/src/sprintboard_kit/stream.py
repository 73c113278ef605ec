"""Stream setup, the same in both services: the tunable settings and an idempotent `ensure_stream`.

The stream's name and subjects are the contract (`sprintboard_contracts.subjects`); what a deployment
tunes (retention, de-duplication window, replicas, a message cap) is set here, from `StreamFields`."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError

from sprintboard_contracts.subjects import STREAM_NAME, STREAM_SUBJECTS

DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
DEFAULT_DUPLICATE_WINDOW_SECONDS = 120
# Subject transforms on a stream source (the v1 stream, docs/events.md) came in NATS 2.10; a 2.9 server
# accepts them and silently drops them, so the stack refuses an older server instead.
MINIMUM_SERVER_VERSION = (2, 10, 0)


class UnsupportedServer(RuntimeError):
    """The NATS server is older than the stream setup needs."""


def require_server_version(nc: Client, minimum: tuple[int, int, int] = MINIMUM_SERVER_VERSION) -> None:
    """Raise `UnsupportedServer`, naming both versions, when the connected server is older than `minimum`."""
    version = nc.connected_server_version
    found = (version.major, version.minor, version.patch)
    if found < minimum:
        needed, have = ".".join(map(str, minimum)), ".".join(map(str, found))
        raise UnsupportedServer(
            f"NATS server {have} is too old: Sprintboard needs NATS >= {needed} "
            "(subject transforms on stream sources)"
        )


@dataclass(frozen=True)
class StreamSettings:
    """What a deployment may tune; the name and subjects are the contract and never change."""

    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    duplicate_window_seconds: float = DEFAULT_DUPLICATE_WINDOW_SECONDS
    replicas: int = 1
    max_msgs: int | None = None

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=STREAM_NAME,
            subjects=list(STREAM_SUBJECTS),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=self.max_age_seconds,
            duplicate_window=self.duplicate_window_seconds,
            num_replicas=self.replicas,
            max_msgs=self.max_msgs if self.max_msgs is not None else -1,
            allow_direct=True,
        )


async def ensure_stream(js: JetStreamContext, settings: StreamSettings | None = None) -> StreamInfo:
    """Create the stream when it is missing; an existing stream is returned untouched (never clobbered)."""
    try:
        return await js.stream_info(STREAM_NAME)
    except NotFoundError:
        pass
    config = (settings or StreamSettings()).config()
    try:
        return await js.add_stream(config)
    except Exception:
        # Another instance may have created it between our look and our add: that is success too.
        return await js.stream_info(STREAM_NAME)


def stream_epoch(info: StreamInfo) -> str:
    """The stream's identity: its creation time, so a recreated stream is a new epoch."""
    created = info.created
    return created.isoformat() if created is not None else f"{STREAM_NAME}:unknown"
