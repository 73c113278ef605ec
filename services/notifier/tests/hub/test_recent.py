"""The hub's memory of recent events: resumes served from it, its bound, and the hand-over to the store."""

from __future__ import annotations

import pytest
from hub_kit import T1, T2, MemorySource, delivery, drained, event_seqs, feed, make_hub, open_socket, outlet

from sprintboard_notifier.hub import Hub, RecentEvents
from sprintboard_notifier.metrics import NotifierMetrics

pytestmark = pytest.mark.unit


def test_the_memory_keeps_the_latest_events_per_tenant_and_moves_its_floor() -> None:
    recent = RecentEvents(capacity=4)
    recent.reset(10)
    for seq in range(11, 17):
        recent.append(delivery(seq, tenant=T1 if seq % 2 else T2))
    assert len(recent) == 4 and recent.floor == 12
    assert [d.seq for d in recent.since(T1, 0, 100)] == [13, 15]
    assert [d.seq for d in recent.since(T2, 12, 15)] == [14]
    assert recent.since("org-none", 0, 100) == []


def test_per_tenant_the_memory_keeps_followed_tenants_only_each_from_its_own_floor() -> None:
    # Interest routing: tenants come by from where each was first followed, their feeds interleaved.
    recent = RecentEvents(capacity=4, per_tenant=True)
    recent.track(T1, 20)
    recent.append(delivery(25, tenant=T2))  # not followed: not kept
    assert recent.since(T2, 0, 100) == [] and recent.floor_of(T2) > 10**12
    recent.track(T2, 30)
    for seq, tenant in ((21, T1), (31, T2), (22, T1), (33, T2)):
        recent.append(delivery(seq, tenant=tenant))
    assert (recent.floor_of(T1), recent.floor_of(T2)) == (20, 30)
    recent.append(delivery(23, tenant=T1))  # evicts 21: T1's floor moves, T2's does not
    assert (recent.floor_of(T1), recent.floor_of(T2)) == (21, 30)
    assert [d.seq for d in recent.since(T1, 0, 100)] == [22, 23]
    recent.forget(T2)
    recent.track(T2, 40)  # followed again: what was kept of it before is not its any more
    recent.append(delivery(41, tenant=T2))  # evicts 31, an event of T2's earlier log
    assert recent.floor_of(T2) == 40
    assert [d.seq for d in recent.since(T2, 0, 100)] == [41]


async def test_a_resume_inside_the_memory_reads_nothing_from_the_store() -> None:
    hub, source, _ = make_hub(history=100)
    feed(hub, source, *(delivery(seq, tenant=T1 if seq % 3 else T2) for seq in range(1, 31)))
    s = open_socket(hub)
    assert await hub.resume(s, None, 10, "epoch-1")
    assert event_seqs(s) == [seq for seq in range(11, 31) if seq % 3]
    assert source.reads == 0
    # One replay frame per event, shared by every socket that replays it.
    a, b = open_socket(hub), open_socket(hub)
    assert await hub.resume(a, None, 25, "epoch-1") and await hub.resume(b, None, 25, "epoch-1")
    assert [f.text for f in outlet(a).take()] == [f.text for f in outlet(b).take()]


async def test_a_gap_below_the_memory_reads_the_store_up_to_its_floor_then_the_memory() -> None:
    hub, source, _ = make_hub(history=5)
    feed(hub, source, *(delivery(seq) for seq in range(1, 21)))
    assert hub.recent.floor == 15
    s = open_socket(hub)
    assert await hub.resume(s, ("sprint", "s-1"), 8, "epoch-1")
    assert event_seqs(s) == list(range(9, 21))
    assert source.reads == 1


async def test_a_store_that_cannot_serve_the_gap_is_a_resync_even_with_a_memory() -> None:
    hub, source, metrics = make_hub(history=5)
    feed(hub, source, *(delivery(seq) for seq in range(1, 21)))
    source.first_seq = 12
    s = open_socket(hub)
    assert not await hub.resume(s, None, 8, "epoch-1")
    assert [f["type"] for f in drained(s)] == ["resync_required"]
    assert metrics.resyncs._value.get() == 1


def test_a_new_stream_or_a_jump_forgets_the_memory() -> None:
    hub, source, _ = make_hub(history=100)
    feed(hub, source, *(delivery(seq) for seq in range(1, 6)))
    hub.start("epoch-1", 9)  # the follower restarted past what it saw: a hole
    assert len(hub.recent) == 0 and hub.recent.floor == 9
    feed(hub, source, delivery(10))
    hub.start("epoch-2", 3)
    assert len(hub.recent) == 0 and hub.recent.floor == 3


async def test_per_tenant_a_tenant_followed_late_resumes_from_the_store_up_to_where_it_was_followed() -> None:
    source, metrics = MemorySource(), NotifierMetrics()
    hub = Hub(source, metrics, hold_frames=100, stall_seconds=1, history_events=100, follow_all=False)
    source.hub = hub
    hub.start(source.epoch, 0)
    source.events.extend(delivery(seq) for seq in range(1, 11))  # stored before T1 was followed here
    hub.followed(T1, 10)
    for seq in range(11, 16):
        source.events.append(delivery(seq))
        hub.publish(delivery(seq))
    hub.publish(delivery(16, tenant=T2))  # not followed: ignored
    assert (hub.position(T1), hub.cursor) == (15, 15)
    s = open_socket(hub)
    assert await hub.resume(s, None, 4, "epoch-1")
    assert event_seqs(s) == list(range(5, 16))
    assert source.asked == [(T1, None)]  # the store for (4, 10], the memory for the rest
    hub.dropped(T1)
    assert hub.recent.since(T1, 0, 100) == []
