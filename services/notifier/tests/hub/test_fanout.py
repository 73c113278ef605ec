"""The hub alone, with an in-memory event source: fan-out, bounded queues and resume bookkeeping."""

from __future__ import annotations

import asyncio

import orjson
from hub_kit import OTHER_SPRINT, SPRINT, T1, T2, delivery, drained, event_seqs, feed, make_hub

from sprintboard_notifier.hub import Session
from sprintboard_notifier.prepared import Frame


def test_one_frame_object_for_every_socket_and_tenants_apart() -> None:
    hub, source, _ = make_hub()
    a, b, other = hub.open(T1, pending=False), hub.open(T1, pending=False), hub.open(T2, pending=False)
    hub.subscribe(b, ("sprint", SPRINT))
    feed(hub, source, delivery(1))
    fa, fb = a.take_nowait(10), b.take_nowait(10)
    assert len(fa) == len(fb) == 1 and fa[0] is fb[0]
    assert other.take_nowait(10) == []
    frame = orjson.loads(fa[0].text)
    assert frame["seq"] == 1 and frame["epoch"] == "epoch-1"


def test_filters_select_and_a_socket_in_two_matching_filters_gets_one_copy() -> None:
    hub, source, _ = make_hub()
    s = hub.open(T1, pending=False)
    hub.subscribe(s, ("sprint", SPRINT))
    hub.subscribe(s, ("story", "story-1"))
    feed(
        hub, source, delivery(1), delivery(2, sprint=OTHER_SPRINT, story="story-9"), delivery(3, sprint=None)
    )
    assert event_seqs(s) == [1, 3]


def test_full_queue_closes_only_that_socket_with_4008() -> None:
    hub, source, metrics = make_hub(queue=2)
    slow, fast = hub.open(T1, pending=False), hub.open(T1, pending=False)
    for seq in range(1, 4):
        feed(hub, source, delivery(seq))
        fast.take_nowait(10)
    assert slow.close_code == 4008 and slow.queued == 0
    assert metrics.slow_closes._value.get() == 1
    feed(hub, source, delivery(4))
    assert event_seqs(fast) == [4] and len(hub) == 1


async def test_resume_holds_live_events_and_hands_over_without_gap_or_duplicate() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 11)))
    source.during_replay = [delivery(seq) for seq in range(11, 16)]
    s = hub.open(T1, pending=False)
    assert await hub.resume(s, ("sprint", SPRINT), 3, "epoch-1")
    assert event_seqs(s) == list(range(4, 16))
    feed(hub, source, delivery(16))
    assert event_seqs(s) == [16]


async def test_resume_skips_what_the_socket_already_got_tenant_wide() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, delivery(1), delivery(2))
    s = hub.open(T1, pending=False)
    feed(hub, source, delivery(3), delivery(4, sprint=OTHER_SPRINT))
    assert event_seqs(s) == [3, 4]
    assert await hub.resume(s, ("sprint", SPRINT), 0, "epoch-1")
    assert event_seqs(s) == [1, 2]


async def test_client_ahead_of_this_instance_gets_nothing_twice() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, delivery(1))
    s = hub.open(T1, pending=False)
    s.take_nowait(10)
    assert await hub.resume(s, ("sprint", SPRINT), 3, "epoch-1")
    feed(hub, source, delivery(2), delivery(3), delivery(4))
    assert event_seqs(s) == [4]


async def test_resync_when_too_old_or_other_epoch() -> None:
    hub, source, metrics = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 6)))
    source.first_seq = 4
    s = hub.open(T1, pending=False)
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
    s = hub.open(T1, pending=False)
    await hub.resume(s, None, 0, "epoch-1")
    assert s.close_code == 4008


def test_batch_frame_splices_serialized_events() -> None:
    frames = [Frame.event(delivery(seq), "e", live=True) for seq in (1, 2)]
    batch = orjson.loads(Frame.batch(frames).text)
    assert batch["type"] == "batch" and [e["seq"] for e in batch["events"]] == [1, 2]


async def test_a_new_socket_holds_events_until_it_states_its_filter() -> None:
    hub, source, _ = make_hub()
    s = hub.open(T1)
    feed(hub, source, delivery(1), delivery(2, sprint=OTHER_SPRINT, story="story-9"))
    assert s.take_nowait(10) == []
    hub.subscribe(s, ("sprint", SPRINT))
    await hub.go_live(s)
    feed(hub, source, delivery(3))
    assert event_seqs(s) == [1, 3]


async def test_a_pending_socket_that_resumes_gets_the_replay_first() -> None:
    hub, source, _ = make_hub()
    feed(hub, source, *(delivery(seq) for seq in range(1, 4)))
    s = hub.open(T1)
    feed(hub, source, delivery(4), delivery(5))
    source.during_replay = [delivery(6)]
    assert await hub.resume(s, ("sprint", SPRINT), 1, "epoch-1")
    assert event_seqs(s) == [2, 3, 4, 5, 6]
    await hub.go_live(s)  # the grace timer firing late changes nothing
    assert event_seqs(s) == []


# -- direct writes (a transport's `write_now`) and the shared batch flush ----------------------------


class Sink:
    def __init__(self) -> None:
        self.wire: list[bytes] = []
        self.paused = False

    def __call__(self, frame: Frame) -> bool:
        if self.paused:
            return False
        self.wire.append(frame.wire)
        return True

    def texts(self) -> list[dict[str, object]]:
        # Unmasked server text frames: 0x81, a 7-bit length (or 126 + 16 bits), the payload.
        out = []
        for w in self.wire:
            assert w[0] == 0x81
            n, start = (w[1], 2) if w[1] < 126 else (int.from_bytes(w[2:4], "big"), 4)
            assert len(w) == start + n
            out.append(orjson.loads(w[start:]))
        return out


def live(hub_session: Session, sink: Sink) -> Session:
    hub_session.sink = sink
    return hub_session


def test_live_frames_are_written_at_once_and_queue_only_while_paused() -> None:
    hub, source, metrics = make_hub(queue=3)
    sink = Sink()
    s = live(hub.open(T1, pending=False), sink)
    feed(hub, source, delivery(1), delivery(2))
    assert [e["seq"] for e in sink.texts()] == [1, 2] and s.queued == 0
    assert metrics.frames_out.value == 2
    sink.paused = True
    feed(hub, source, delivery(3))
    sink.paused = False
    feed(hub, source, delivery(4))  # must not overtake the queued 3
    assert [e["seq"] for e in sink.texts()] == [1, 2] and s.queued == 2
    assert [orjson.loads(f.text)["seq"] for f in s.take_nowait(10)] == [3, 4]
    feed(hub, source, delivery(5))  # the writer still holds 3 and 4: 5 waits behind them
    assert s.queued == 1
    s.sent()
    s.take_nowait(10)
    s.sent()
    feed(hub, source, delivery(6))
    assert [e["seq"] for e in sink.texts()][-1] == 6
    sink.paused = True
    feed(hub, source, *(delivery(seq) for seq in range(7, 11)))
    assert s.closed and s.close_code == 4008


async def test_batching_sockets_share_one_flush_and_one_frame() -> None:
    hub, source, _ = make_hub()
    sinks = [Sink() for _ in range(3)]
    sessions = [live(hub.open(T1, pending=False), sink) for sink in sinks]
    for s in sessions:
        s.batch = True
        hub.subscribe(s, ("sprint", SPRINT))
    feed(hub, source, delivery(1), delivery(2), delivery(3))
    assert all(not sink.wire for sink in sinks)
    await asyncio.sleep(0.05)
    (batch,) = sinks[0].texts()
    assert batch["type"] == "batch"
    assert [e["seq"] for e in batch["events"]] == [1, 2, 3]  # type: ignore[attr-defined]
    assert sinks[0].wire[0] is sinks[1].wire[0] is sinks[2].wire[0]


async def test_a_paused_batching_socket_keeps_its_batch_for_the_writer() -> None:
    hub, source, _ = make_hub()
    sink = Sink()
    s = live(hub.open(T1, pending=False), sink)
    s.batch = True
    sink.paused = True
    feed(hub, source, delivery(1), delivery(2))
    await asyncio.sleep(0.05)
    frames = s.take_nowait(10)
    assert len(frames) == 1 and frames[0].batched and not frames[0].is_event
    assert [e["seq"] for e in orjson.loads(frames[0].text)["events"]] == [1, 2]
