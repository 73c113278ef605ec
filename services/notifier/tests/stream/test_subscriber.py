"""One declaration: the AsyncAPI document and the consumer the follower creates say the same thing."""

from __future__ import annotations

import orjson
import pytest
from nats.js.api import AckPolicy, DeliverPolicy

from sprintboard_contracts.subjects import ALL_TASK_EVENTS, STREAM_NAME
from sprintboard_notifier.asyncapi import specification
from sprintboard_notifier.stream.subscriber import STREAM, TASK_EVENTS, consumer_config

pytestmark = pytest.mark.unit


def test_the_document_shows_the_subject_the_consumer_filters_on() -> None:
    config = consumer_config(42, "_INBOX.follower")
    document = orjson.loads(specification().to_json())
    assert document["channels"]["task-events"]["address"] == config.filter_subject
    # presence: the key-value buckets (entries, and the instances' heartbeats)
    assert set(document["channels"]) == {"task-events", "presence", "presence-instances"}
    assert config.filter_subject == ALL_TASK_EVENTS and STREAM == STREAM_NAME


def test_each_consumer_is_the_declared_one_from_its_start() -> None:
    config = consumer_config(42, "_INBOX.follower")
    assert (config.opt_start_seq, config.deliver_subject) == (42, "_INBOX.follower")
    assert config.deliver_policy == DeliverPolicy.BY_START_SEQUENCE
    assert config.ack_policy == AckPolicy.NONE and config.flow_control and config.idle_heartbeat
    assert config.durable_name is None and config.deliver_group is None  # ephemeral, no queue group
    # The declaration itself is left as declared for the next consumer.
    assert TASK_EVENTS.config.opt_start_seq is None and TASK_EVENTS.config.deliver_subject is None
