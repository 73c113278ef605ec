"""A reconnect storm on one instance: 2,000 sockets resume at once while events keep coming."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field

import orjson
import pytest
from notifier_kit import Board, Notifier, Publisher, make_event, publisher, run_notifier, token
from websockets.asyncio.client import connect

pytestmark = pytest.mark.integration

SOCKETS = 2000
SPRINTS = 20
BACKLOG = 600  # events published before the storm: every resume point lies among them
RATE = 100  # events/s during the storm


@dataclass
class Resumer:
    """A board client back after a drop: auth, then subscribe with `resume_from`, then read."""

    index: int
    tenant_id: str
    sprint_id: str
    after: int
    gap_end: int = 0  # the last seq published when it connected: what its replay must cover
    events: list[tuple[int, str, float]] = field(default_factory=list)
    resyncs: int = 0
    subscribed_at: float | None = None


async def _follow(
    r: Resumer, notifier: Notifier, epoch: str, published: list[int], stop: asyncio.Event
) -> None:
    r.gap_end = published[-1]
    async with connect(notifier.ws_url, open_timeout=60, max_size=2**22) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": token(r.tenant_id, f"user{r.index}")}).decode())
        subscribe = {
            "type": "subscribe",
            "sprint_id": r.sprint_id,
            "resume_from": {"seq": r.after, "epoch": epoch},
        }
        await ws.send(orjson.dumps(subscribe).decode())
        reading = asyncio.ensure_future(stop.wait())
        while True:
            receiving = asyncio.ensure_future(ws.recv())
            done, _ = await asyncio.wait({receiving, reading}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                return
            frame = orjson.loads(receiving.result())
            now = time.monotonic()
            kind = frame.get("type")
            frames = frame["events"] if kind == "batch" else [frame] if "event_id" in frame else []
            for e in frames:
                r.events.append((e["seq"], e["event_id"], now))
            if kind == "subscribed":
                r.subscribed_at = now
            elif kind == "resync_required":
                r.resyncs += 1


async def _publish(
    pub: Publisher, boards: list[Board], rng: random.Random, log: list[tuple[int, int, str]]
) -> int:
    i = rng.randrange(len(boards))
    event = make_event(boards[i], story=rng.choice(boards[i].stories))
    seq = await pub.publish(event)
    log.append((seq, i, str(event.event_id)))
    return seq


@pytest.mark.timeout(600)
async def test_a_storm_of_resumes_inside_the_history_loses_and_repeats_nothing(nats_url: str) -> None:
    rng = random.Random(11)
    tenants = [f"org-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    boards = [Board(tenants[i % 2]) for i in range(SPRINTS)]
    async with run_notifier(nats_url) as notifier, publisher(nats_url) as pub:
        epoch = notifier.hub.epoch
        log: list[tuple[int, int, str]] = []
        published: list[int] = []
        for _ in range(BACKLOG):
            published.append(await _publish(pub, boards, rng, log))
        resumers = []
        for i in range(SOCKETS):
            b = i % SPRINTS
            after = published[rng.randrange(BACKLOG)]
            resumers.append(Resumer(i, boards[b].tenant_id, str(boards[b].sprint_id), after))

        stop = asyncio.Event()
        storming = asyncio.Event()

        async def steady() -> None:
            while not stop.is_set() and len(published) < BACKLOG + 60 * RATE:
                published.append(await _publish(pub, boards, rng, log))
                await asyncio.sleep(1 / RATE)
                if storming.is_set() and all(r.subscribed_at for r in resumers):
                    break

        publishing = asyncio.create_task(steady())
        await asyncio.sleep(0.3)
        started = time.monotonic()
        storming.set()
        tasks = []
        for r in resumers:  # every client back within about a second
            tasks.append(asyncio.create_task(_follow(r, notifier, epoch, published, stop)))
            await asyncio.sleep(1.0 / SOCKETS)
        await publishing
        last = published[-1]
        # Wait until every client has all its sprint's events up to the last one published.
        wanted = {}
        for r in resumers:
            b = boards.index(next(x for x in boards if str(x.sprint_id) == r.sprint_id))
            wanted[r.index] = [(seq, eid) for seq, i, eid in log if i == b and seq > r.after]
        deadline = time.monotonic() + 90  # a figure to print even when it never completes
        while time.monotonic() < deadline and any(
            len(r.events) < len(wanted[r.index]) and not r.resyncs for r in resumers
        ):
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

        lost = duplicated = out_of_order = 0
        silently_short = 0
        resumed_at: list[float] = []
        for r in resumers:
            want = wanted[r.index]
            got = [(seq, eid) for seq, eid, _ in r.events]
            seqs = [seq for seq, _ in got]
            duplicated += len(seqs) - len(set(seqs))
            out_of_order += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
            missing = 0 if r.resyncs else len(set(want) - set(got))  # a resync is told, not lost
            lost += missing
            silently_short += 1 if missing else 0
            gap = [t for seq, _, t in r.events if seq <= r.gap_end]
            resumed_at.append((max(gap) if gap else r.subscribed_at or time.monotonic()) - started)
        resyncs = sum(1 for r in resumers if r.resyncs)
        print(
            f"\nstorm: {SOCKETS} sockets on one instance, {len(published)} events up to seq {last}: "
            f"resync_required {resyncs}, lost {lost} events on {silently_short} silently short clients, "
            f"duplicated {duplicated}, out of order {out_of_order}; "
            f"all subscribed after {max(r.subscribed_at or 0 for r in resumers) - started:.2f} s, "
            f"all resumed after {max(resumed_at):.2f} s "
            f"(p50 {sorted(resumed_at)[len(resumed_at) // 2]:.2f} s)"
        )
        assert (resyncs, lost, duplicated, out_of_order) == (0, 0, 0, 0)
