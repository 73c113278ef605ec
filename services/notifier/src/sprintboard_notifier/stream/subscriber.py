"""The one declaration of what the notifier consumes: subject, stream, consumer and payload (FastStream)."""

from __future__ import annotations

import dataclasses

from faststream.nats import JStream, NatsBroker
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sprintboard_contracts.events import TaskEvent
from sprintboard_contracts.subjects import ALL_TASK_EVENTS, STREAM_NAME

# The address in the compose deployment; the document never shows the configured URL (credentials).
DOCUMENTED_NATS_URL = "nats://nats:4222"

# Never connected: the follower reads the declaration and runs the consumer on nats-py's own callback
# (docs/architecture.md, "Ingest"); `asyncapi.py` renders the document from this broker.
broker = NatsBroker(DOCUMENTED_NATS_URL, description="NATS with JetStream")

TASK_EVENTS = broker.subscriber(
    ALL_TASK_EVENTS,  # v2 subjects, and the v1 ones stored before an upgrade to v2
    stream=JStream(STREAM_NAME, declare=False),
    # Ephemeral push consumers, never a queue group: one per followed tenant per instance (or one per
    # instance that follows every tenant); the follower sets the filter, where it starts and its inbox
    # each time it (re)creates one.
    config=ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        ack_policy=AckPolicy.NONE,
        max_deliver=1,
        flow_control=True,
        idle_heartbeat=1.0,  # two missed beats and the follower recreates the consumer
        mem_storage=True,
        num_replicas=1,
    ),
    title="task-events",
    description="Every task event, in stream order; invalid messages are counted and skipped.",
)


@TASK_EVENTS
async def fan_out(event: TaskEvent) -> None:  # pragma: no cover - the payload contract, for the document
    """Forward the event to the sockets of its tenant whose subscriptions match."""


def consumer_config(
    start_seq: int, deliver_subject: str, filter_subject: str | None = None
) -> ConsumerConfig:
    """The declared consumer, delivering to `deliver_subject` from stream sequence `start_seq` on: every
    task event, or only those on `filter_subject` (one tenant's v2 subjects, for interest routing)."""
    return dataclasses.replace(
        TASK_EVENTS.config,
        filter_subject=filter_subject or TASK_EVENTS.subject.broker_address,
        opt_start_seq=start_seq,
        deliver_subject=deliver_subject,
    )


# What the follower reads from the declaration besides `consumer_config`.
STREAM = TASK_EVENTS.stream.name
HEARTBEAT_SECONDS = float(TASK_EVENTS.config.idle_heartbeat or 1.0)
