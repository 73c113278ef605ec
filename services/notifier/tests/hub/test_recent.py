"""The hub's memory of recent events: resumes served from it, its bound, and the hand-over to the store."""

from __future__ import annotations

import pytest
from hub_kit import T1, T2, delivery, drained, event_seqs, feed, make_hub, open_socket, outlet

from sprintboard_notifier.hub import RecentEvents

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
