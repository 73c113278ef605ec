"""Stream setup, the same in both services: the tunable settings and an idempotent `ensure_stream`.

The streams' names, subjects and sources are the contract (`sprintboard_contracts.subjects`); what a
deployment tunes (retention, de-duplication window, replicas, a message cap) is set here, from
`StreamFields`. `BACKLOG_TASKS` stores each event once, on its v2 subject; `BACKLOG_TASKS_V1` sources it
with a subject transform back to v1 subjects, for the consumers written for v1 (docs/events.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError

from sprintboard_contracts.subjects import (
    LIVE_REPUBLISH,
    LIVE_SOURCE_TRANSFORM,
    LIVE_STREAM_NAME,
    STREAM_NAME,
    STREAM_SUBJECTS,
    V1_SOURCE_TRANSFORMS,
    V1_STREAM_NAME,
    V1_STREAM_SUBJECTS,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
DEFAULT_DUPLICATE_WINDOW_SECONDS = 120
DEFAULT_MAX_CONSUMERS = 100_000
# Subject transforms on a stream source (the v1 stream, docs/events.md) came in NATS 2.10; a 2.9 server
# accepts them and silently drops them, so the stack refuses an older server instead.
MINIMUM_SERVER_VERSION = (2, 10, 0)
# How long the live stream keeps a tenant's last event: it is only the tenant's place in the live numbering.
LIVE_MAX_AGE_SECONDS = 3600.0
# In the v1 and live streams' metadata: the epoch of the BACKLOG_TASKS they source.
SOURCE_EPOCH_KEY = "sprintboard_source_epoch"


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
    # Consumers the stream allows: each notifier holds one per followed tenant. NATS 2.15 caps a stream
    # that sets none at 1,000, so one is always set.
    max_consumers: int = DEFAULT_MAX_CONSUMERS

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
            max_consumers=self.max_consumers,
            allow_direct=True,
        )


def v1_source() -> StreamSource:
    """How the v1 stream takes BACKLOG_TASKS's messages: all of them, each subject turned into v1."""
    return StreamSource(
        name=STREAM_NAME,
        subject_transforms=[SubjectTransform(src=src, dest=dest) for src, dest in V1_SOURCE_TRANSFORMS],
    )


def v1_config(info: StreamInfo) -> StreamConfig:
    """The v1 stream: BACKLOG_TASKS's messages on v1 subjects, kept as long as BACKLOG_TASKS keeps them."""
    main = info.config
    return StreamConfig(
        name=V1_STREAM_NAME,
        # Which BACKLOG_TASKS it sources: a source tracks the sequences it has taken, so after BACKLOG_TASKS
        # is made again it would skip as many of the new stream's messages as the old one had.
        metadata={SOURCE_EPOCH_KEY: stream_epoch(info)},
        subjects=list(V1_STREAM_SUBJECTS),
        sources=[v1_source()],
        retention=RetentionPolicy.LIMITS,
        storage=main.storage or StorageType.FILE,
        max_age=main.max_age,
        max_msgs=main.max_msgs if main.max_msgs is not None else -1,
        num_replicas=main.num_replicas,
        duplicate_window=main.duplicate_window,
    )


def _sources_match(config: StreamConfig) -> bool:
    want = v1_source()
    return [(s.name, s.subject_transforms, s.filter_subject) for s in config.sources or []] == [
        (want.name, want.subject_transforms, None)
    ]


async def ensure_stream(js: JetStreamContext, settings: StreamSettings | None = None) -> StreamInfo:
    """Make both streams as the contract says, and return BACKLOG_TASKS's info.

    A missing stream is created from `settings`. An existing one keeps what a deployment tuned (retention,
    replicas, caps): only its subjects, and the v1 stream's source, are set to the contract's, which is
    what upgrading a stream made for v1 subjects takes (docs/operations.md, "Upgrading to v2 subjects").
    Safe to run from any number of processes at once: each writes the same configuration.
    """
    main = await _ensure(js, STREAM_NAME, lambda: (settings or StreamSettings()).config(), _main_upgrade)
    await _ensure_source_of(js, main, V1_STREAM_NAME, lambda: v1_config(main), _v1_upgrade)
    return main


def live_config(info: StreamInfo) -> StreamConfig:
    """The live stream (docs/architecture.md, "Interest routing"): BACKLOG_TASKS's v2 messages from after
    its last one now, each on its tenant's subject, the last one per tenant kept in memory, and each
    republished as it is stored. As many replicas as BACKLOG_TASKS."""
    src, dest = LIVE_SOURCE_TRANSFORM
    republish_src, republish_dest = LIVE_REPUBLISH
    return StreamConfig(
        name=LIVE_STREAM_NAME,
        description="The live path of interest routing: the last event of each tenant, republished",
        metadata={SOURCE_EPOCH_KEY: stream_epoch(info)},
        sources=[
            StreamSource(
                name=STREAM_NAME,
                # Not the whole history: what came before is read from BACKLOG_TASKS itself.
                opt_start_seq=info.state.last_seq + 1,
                subject_transforms=[SubjectTransform(src=src, dest=dest)],
            )
        ],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY,
        max_msgs_per_subject=1,
        max_age=LIVE_MAX_AGE_SECONDS,
        num_replicas=info.config.num_replicas,
        republish=RePublish(src=republish_src, dest=republish_dest),
    )


async def ensure_live_stream(js: JetStreamContext, main: StreamInfo) -> StreamInfo:
    """Make the live stream exist, sourcing the BACKLOG_TASKS of `main`'s epoch, and return its info.
    Safe to run from any number of notifier instances at once."""
    return await _ensure_source_of(js, main, LIVE_STREAM_NAME, lambda: live_config(main), lambda _: None)


async def _ensure_source_of(
    js: JetStreamContext,
    main: StreamInfo,
    name: str,
    create: Callable[[], StreamConfig],
    upgrade: Callable[[StreamConfig], StreamConfig | None],
) -> StreamInfo:
    info = await _ensure(js, name, create, upgrade)
    if (info.config.metadata or {}).get(SOURCE_EPOCH_KEY) != stream_epoch(main):
        # BACKLOG_TASKS was made again (a new epoch): so is the stream that sources it.
        log.warning("%s sources an earlier %s: recreating it", name, STREAM_NAME)
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(name)
        info = await _ensure(js, name, create, upgrade)
    return info


def _main_upgrade(config: StreamConfig) -> StreamConfig | None:
    if config.subjects == list(STREAM_SUBJECTS):
        return None
    return dataclasses.replace(config, subjects=list(STREAM_SUBJECTS))


def _v1_upgrade(config: StreamConfig) -> StreamConfig | None:
    if config.subjects == list(V1_STREAM_SUBJECTS) and _sources_match(config):
        return None
    return dataclasses.replace(config, subjects=list(V1_STREAM_SUBJECTS), sources=[v1_source()])


async def _ensure(
    js: JetStreamContext,
    name: str,
    create: Callable[[], StreamConfig],
    upgrade: Callable[[StreamConfig], StreamConfig | None],
) -> StreamInfo:
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            return await js.add_stream(create())
        except Exception:
            # Another instance may have created it between our look and our add: that is success too.
            info = await js.stream_info(name)
    changed = upgrade(info.config)
    return info if changed is None else await js.update_stream(changed)


def stream_epoch(info: StreamInfo) -> str:
    """The stream's identity: its creation time, so a recreated stream is a new epoch."""
    created = info.created
    return created.isoformat() if created is not None else f"{STREAM_NAME}:unknown"
