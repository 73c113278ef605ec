"""The per-socket `Writer` and the shared `Flusher`: write-combining, flow control, the bound, batch
frames built once per flush, the close after the data, counting in one place."""

from __future__ import annotations

import asyncio

import pytest
from fake_connection import FakeConnection, parse_frames
from hub_kit import delivery

from sprintboard_notifier.closecodes import PEER_GONE, SLOW_CLIENT
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame
from sprintboard_notifier.writer import Flusher, Writer, batch_frames

pytestmark = pytest.mark.unit


def event(seq: int, live: bool = False) -> Frame:
    return Frame.event(delivery(seq), "epoch-1", live=live)


def probe(n: int) -> Frame:
    return Frame.control({"type": "probe", "n": n})


def setup(
    sockets: int = 1, capacity: int = 8, window: float = 0.01, batch_max: int = 256
) -> tuple[Flusher, list[Writer], list[FakeConnection], NotifierMetrics]:
    metrics = NotifierMetrics()
    flusher = Flusher(metrics, window, batch_max, 65_536)
    conns = [FakeConnection() for _ in range(sockets)]
    writers = [Writer(c, flusher, capacity) for c in conns]
    return flusher, writers, conns, metrics


async def turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_frames_of_one_turn_share_one_write_and_stay_frames() -> None:
    _, (w,), (conn,), metrics = setup()
    for n in range(3):
        assert w.offer(probe(n))
    assert conn.writes == [] and w.queued == 3, "written at the flush, not at once"
    await turn()
    assert len(conn.writes) == 1 and [f["n"] for f in conn.frames()] == [0, 1, 2]
    assert (metrics.frames_out.value, metrics.socket_writes.value) == (3, 1)
    assert metrics.bytes_out.value == len(conn.writes[0])


async def test_sockets_due_in_one_turn_share_one_scheduled_flush() -> None:
    flusher, writers, conns, _ = setup(sockets=3)
    writers[0].offer(probe(0))
    scheduled = flusher._handle
    for w in writers[1:]:
        w.offer(probe(1))
    assert flusher._handle is scheduled, "the flush was cancelled and scheduled again per socket"
    await turn()
    assert [len(c.writes) for c in conns] == [1, 1, 1]


async def test_the_next_flush_waits_as_long_as_the_last_took() -> None:
    flusher, (w,), (conn,), _ = setup()
    w.offer(probe(0))
    await turn()
    flusher._not_before = asyncio.get_running_loop().time() + 0.05  # as after a 50 ms flush
    w.offer(probe(1))
    await turn()
    assert len(conn.writes) == 1
    await asyncio.sleep(0.07)
    assert len(conn.writes) == 2


async def test_a_paused_socket_queues_up_to_its_capacity_then_refuses() -> None:
    _, (w,), (conn,), _ = setup(capacity=3)
    w.pause_writing()
    assert all(w.offer(probe(n)) for n in range(3))
    assert not w.offer(probe(3)), "full while paused: the hub closes the socket with 4008"
    await turn()
    assert conn.writes == []
    w.resume_writing()
    await turn()
    assert [f["n"] for f in conn.frames()] == [0, 1, 2]


async def test_a_full_queue_of_a_reading_socket_goes_out_at_once() -> None:
    _, (w,), (conn,), _ = setup(capacity=3)
    for n in range(7):
        assert w.offer(probe(n))
    assert len(conn.writes) == 2 and w.queued == 1
    await turn()
    assert [f["n"] for f in conn.frames()] == list(range(7))


async def test_room_waits_for_the_socket_to_drain() -> None:
    _, (w,), _, _ = setup(capacity=2)
    w.pause_writing()
    w.offer(probe(0))
    w.offer(probe(1))
    assert not await w.room(0.01)
    waiting = asyncio.create_task(w.room(1))
    await turn()
    w.resume_writing()
    assert await waiting
    assert w.offer(probe(2))


async def test_batching_sockets_with_the_same_events_share_one_built_batch_frame() -> None:
    _, writers, conns, metrics = setup(sockets=3, window=0.01)
    for w in writers:
        w.batch = True
    frames = [event(seq) for seq in (1, 2, 3)]
    for f in frames:
        for w in writers:
            w.offer(f)
    await turn()
    assert all(c.writes == [] for c in conns), "a batching socket waits for the window"
    await asyncio.sleep(0.03)
    (batch,) = conns[0].frames()
    assert batch["type"] == "batch" and [e["seq"] for e in batch["events"]] == [1, 2, 3]
    assert conns[0].writes[0] is conns[1].writes[0] is conns[2].writes[0], "built once per flush"
    assert metrics.frames_out.value == 3, "one batch frame per socket"


async def test_a_full_batch_does_not_wait_for_the_window() -> None:
    _, (w,), (conn,), _ = setup(window=10, batch_max=2)
    w.batch = True
    w.offer(event(1))
    w.offer(event(2))
    await turn()
    (batch,) = conn.frames()
    assert [e["seq"] for e in batch["events"]] == [1, 2]


def test_runs_of_events_become_batches_and_control_frames_keep_their_place() -> None:
    out = batch_frames([event(1), event(2), probe(0), event(3), event(4), event(5)], 2, 65_536)
    texts = [parse_frames(f.wire)[0] for f in out]
    assert [t["type"] for t in texts] == ["batch", "probe", "batch", "batch"]
    assert [[e["seq"] for e in t["events"]] for t in texts if t["type"] == "batch"] == [[1, 2], [3, 4], [5]]


async def test_a_close_follows_the_frames_handed_over_before_it() -> None:
    _, (w,), (conn,), _ = setup()
    w.offer(probe(0))
    w.close(4000, "bye")
    assert [f["n"] for f in conn.frames()] == [0] and conn.closed == (4000, "bye")
    assert w.offer(probe(1)), "after the close: dropped without complaint"
    await turn()
    assert len(conn.frames()) == 1


async def test_a_paused_close_drops_the_backlog_and_a_vanished_peer_gets_nothing() -> None:
    _, (paused, gone), (c1, c2), _ = setup(sockets=2)
    paused.pause_writing()
    paused.offer(probe(0))
    paused.close(SLOW_CLIENT, "send buffer full")
    assert c1.writes == [] and c1.closed == (SLOW_CLIENT, "send buffer full")
    gone.offer(probe(0))
    gone.close(PEER_GONE)
    assert c2.writes == [] and c2.closed is None


async def test_each_live_event_lag_is_observed_once_however_many_sockets_get_it() -> None:
    _, writers, _, metrics = setup(sockets=3)
    frame = event(1, live=True)
    assert frame.timestamp is not None
    for w in writers:
        w.offer(frame)
    w.offer(probe(0))  # control frames have no lag
    await turn()
    assert sum(metrics.lag.counts) == 1


async def test_last_sent_moves_with_each_write() -> None:
    _, (w,), _, _ = setup()
    before = w.last_sent
    await asyncio.sleep(0.001)
    w.offer(probe(0))
    await turn()
    assert w.last_sent > before
