"""The hub alone, with an in-memory event source: fan-out, bounded queues and resume bookkeeping."""

from __future__ import annotations

import orjson
import pytest
from hub_kit import (
    OTHER_SPRINT,
    SPRINT,
    T1,
    T2,
    delivery,
    drained,
    event_seqs,
    feed,
    make_hub,
    open_socket,
    outlet,
)

from sprintboard_notifier.closecodes import SLOW_CLIENT
from sprintboard_notifier.prepared import Frame

pytestmark = pytest.mark.unit


def test_one_frame_object_for_every_socket_and_tenants_apart() -> None:
    hub, source, _ = make_hub()
    a, b, other = open_socket(hub), open_socket(hub), open_socket(hub, T2)
    hub.subscribe(b, ("sprint", SPRINT))
    feed(hub, source, delivery(1))
    fa, fb = outlet(a).take(), outlet(b).take()
    assert len(fa) == len(fb) == 1 and fa[0] is fb[0]
    assert outlet(other).take() == []
    frame = orjson.loads(fa[0].text)
    assert frame["seq"] == 1 and frame["epoch"] == "epoch-1"


def test_filters_select_and_a_socket_in_two_matching_filters_gets_one_copy() -> None:
    hub, source, _ = make_hub()
    s = open_socket(hub)
    hub.subscribe(s, ("sprint", SPRINT))
    hub.subscribe(s, ("story", "story-1"))
    feed(
        hub, source, delivery(1), delivery(2, sprint=OTHER_SPRINT, story="story-9"), delivery(3, sprint=None)
    )
    assert event_seqs(s) == [1, 3]


def test_full_queue_closes_only_that_socket_with_4008() -> None:
    hub, source, metrics = make_hub()
    slow, fast = open_socket(hub, capacity=2), open_socket(hub, capacity=2)
    for seq in range(1, 4):
        feed(hub, source, delivery(seq))
        outlet(fast).take()
    assert slow.close_code == SLOW_CLIENT and outlet(slow).closed == (SLOW_CLIENT, "send buffer full")
    assert outlet(slow).frames == []
    assert metrics.slow_closes._value.get() == 1
    feed(hub, source, delivery(4))
    assert event_seqs(fast) == [4] and len(hub) == 1


async def test_resume_holds_live_events_and_hands_over_without_gap_or_duplicate() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 11)))
    source.during_replay = [delivery(seq) for seq in range(11, 16)]
    s = open_socket(hub)
    assert await hub.resume(s, ("sprint", SPRINT), 3, "epoch-1")
    assert event_seqs(s) == list(range(4, 16))
    feed(hub, source, delivery(16))
    assert event_seqs(s) == [16]


async def test_resume_skips_what_the_socket_already_got_tenant_wide() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, delivery(1), delivery(2))
    s = open_socket(hub)
    feed(hub, source, delivery(3), delivery(4, sprint=OTHER_SPRINT))
    assert event_seqs(s) == [3, 4]
    assert await hub.resume(s, ("sprint", SPRINT), 0, "epoch-1")
    assert event_seqs(s) == [1, 2]


async def test_client_ahead_of_this_instance_gets_nothing_twice() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, delivery(1))
    s = open_socket(hub)
    outlet(s).take()
    assert await hub.resume(s, ("sprint", SPRINT), 3, "epoch-1")
    feed(hub, source, delivery(2), delivery(3), delivery(4))
    assert event_seqs(s) == [4]


async def test_resync_when_too_old_or_other_epoch() -> None:
    hub, source, metrics = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 6)))
    source.first_seq = 4
    s = open_socket(hub)
    assert not await hub.resume(s, None, 1, "epoch-1")
    assert not await hub.resume(s, None, 3, "epoch-0")
    assert [f["type"] for f in drained(s)] == ["resync_required", "resync_required"]
    assert await hub.resume(s, None, 3, "epoch-1")
    assert event_seqs(s) == [4, 5]
    assert metrics.resyncs._value.get() == 2


async def test_hold_overflow_closes_4008() -> None:
    hub, source, _ = make_hub(hold=3)
    feed(hub, source, *(delivery(seq) for seq in range(1, 5)))
    source.during_replay = [delivery(seq) for seq in range(5, 10)]
    s = open_socket(hub)
    await hub.resume(s, None, 0, "epoch-1")
    assert s.close_code == SLOW_CLIENT


def test_batch_frame_splices_serialized_events() -> None:
    frames = [Frame.event(delivery(seq), "e", live=True) for seq in (1, 2)]
    batch = orjson.loads(Frame.batch(frames).text)
    assert batch["type"] == "batch" and [e["seq"] for e in batch["events"]] == [1, 2]


async def test_a_new_socket_holds_events_until_it_states_its_filter() -> None:
    hub, source, _ = make_hub()
    s = open_socket(hub, pending=True)
    feed(hub, source, delivery(1), delivery(2, sprint=OTHER_SPRINT, story="story-9"))
    assert outlet(s).take() == []
    hub.subscribe(s, ("sprint", SPRINT))
    await hub.go_live(s)
    feed(hub, source, delivery(3))
    assert event_seqs(s) == [1, 3]


async def test_a_pending_socket_that_resumes_gets_the_replay_first() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 4)))
    s = open_socket(hub, pending=True)
    feed(hub, source, delivery(4), delivery(5))
    source.during_replay = [delivery(6)]
    assert await hub.resume(s, ("sprint", SPRINT), 1, "epoch-1")
    assert event_seqs(s) == [2, 3, 4, 5, 6]
    await hub.go_live(s)  # the grace timer firing late changes nothing
    assert event_seqs(s) == []


async def test_a_replay_asks_the_source_for_the_sockets_tenant_and_the_feed_it_resumes() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 4)))
    named, whole, everything = (open_socket(hub) for _ in range(3))
    hub.subscribe(whole, ("sprint", SPRINT))
    hub.subscribe(whole, ("project", "p-1"))
    assert await hub.resume(named, ("sprint", SPRINT), 0, "epoch-1")
    assert await hub.resume(whole, None, 0, "epoch-1")
    assert await hub.resume(everything, None, 0, "epoch-1")
    assert source.asked == [
        (T1, frozenset({("sprint", SPRINT)})),
        (T1, frozenset({("sprint", SPRINT), ("project", "p-1")})),
        (T1, None),
    ]
