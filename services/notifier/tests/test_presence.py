"""Presence over the socket protocol (spec §4): two notifier instances on one real NATS, and a real process
killed with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notifier_kit import (
    Board,
    Client,
    Notifier,
    client,
    make_event,
    publisher,
    run_notifier,
    start_notifier_process,
    token,
)
from presence_kit import Viewers
from websockets.asyncio.client import connect

from sprintboard_devstack.servers import free_port
from sprintboard_kit.tokens import user_id_for

pytestmark = pytest.mark.integration

FAST = {"presence_ttl_seconds": 2.0, "presence_grace_seconds": 0.6, "presence_diff_interval_seconds": 0.2}


def uid(sub: str) -> str:
    return str(user_id_for(None, sub))


def fast(bucket: str) -> dict[str, Any]:
    return FAST | {"presence_bucket": bucket}


@pytest.fixture
def bucket() -> str:
    return f"PRESENCE_{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def two(nats_url: str, bucket: str, **overrides: Any) -> AsyncIterator[tuple[Notifier, Notifier]]:
    settings = fast(bucket) | overrides
    async with (
        run_notifier(nats_url, instance_id="a", **settings) as a,
        run_notifier(nats_url, instance_id="b", **settings) as b,
    ):
        yield a, b


@contextlib.asynccontextmanager
async def viewer(n: Notifier, org: str, sub: str, sprint: str) -> AsyncIterator[Viewers]:
    async with client(n, token(org, sub), auth="frame") as c:
        await c.control("welcome")
        v = Viewers(c)
        first = await v.subscribe(sprint)
        assert first["type"] == "presence" and first["sprint_id"] == sprint
        yield v


async def test_three_users_over_two_instances_see_the_same_presence(
    nats_url: str, tenant: str, bucket: str
) -> None:
    sprint = str(uuid.uuid4())
    everyone = {uid("ann"): "Ann", uid("bob"): "Bob", uid("cat"): "Cat"}
    async with (
        two(nats_url, bucket) as (a, b),
        viewer(a, tenant, "ann", sprint) as ann,
        viewer(b, tenant, "bob", sprint) as bob,
        viewer(a, tenant, "cat", sprint) as cat,
    ):
        for v in (ann, bob, cat):
            await v.until(lambda users: users == everyone)


async def test_a_second_tab_adds_no_entry_and_the_last_tab_leaves_after_the_grace(
    nats_url: str, tenant: str, bucket: str
) -> None:
    sprint = str(uuid.uuid4())
    async with two(nats_url, bucket) as (a, b), viewer(b, tenant, "bob", sprint) as bob:
        async with viewer(a, tenant, "ann", sprint):
            await bob.until(lambda users: uid("ann") in users)
            async with viewer(b, tenant, "ann", sprint) as second:
                assert sorted(second.users) == sorted([uid("ann"), uid("bob")])
            # The second tab closed (and the first is still open): well past the grace, Ann never left.
            await bob.drain(FAST["presence_grace_seconds"] + FAST["presence_ttl_seconds"])
            assert uid("ann") in bob.users and all(not d["leaves"] for d in bob.diffs())
            assert len(bob.users) == 2
        await bob.until(lambda users: uid("ann") not in users)
        assert bob.diffs()[-1]["leaves"] == [{"user_id": uid("ann"), "name": "Ann"}]


async def test_another_tenants_socket_on_the_same_sprint_id_sees_nothing(
    nats_url: str, tenant: str, bucket: str
) -> None:
    sprint = str(uuid.uuid4())
    async with (
        two(nats_url, bucket) as (a, b),
        viewer(b, tenant + "-other", "zed", sprint) as other,
        viewer(a, tenant, "ann", sprint) as ann,
        viewer(b, tenant, "bob", sprint),
    ):
        await ann.until(lambda users: len(users) == 2)
        await other.drain(FAST["presence_ttl_seconds"])
        assert other.users == {uid("zed"): "Zed"} and other.diffs() == []


async def test_a_socket_that_opts_out_is_neither_sent_presence_nor_counted(
    nats_url: str, tenant: str, bucket: str
) -> None:
    sprint = str(uuid.uuid4())
    async with two(nats_url, bucket) as (a, b), viewer(a, tenant, "ann", sprint) as ann:
        async with client(b, token(tenant, "bob"), auth="frame") as c:
            await c.control("welcome")
            await c.send({"type": "options", "presence": False})
            assert await c.control("options") == {"type": "options", "batch": False, "presence": False}
            await c.send({"type": "subscribe", "sprint_id": sprint})
            await c.control("subscribed")
            quiet = Viewers(c)
            await quiet.drain(FAST["presence_ttl_seconds"])
            assert quiet.frames == []
        assert ann.users == {uid("ann"): "Ann"}


async def test_200_sockets_joining_at_once_are_a_few_diffs(nats_url: str, tenant: str, bucket: str) -> None:
    sprint, loop = str(uuid.uuid4()), asyncio.get_running_loop()
    interval = 0.25
    async with (
        two(nats_url, bucket, presence_diff_interval_seconds=interval) as (a, b),
        viewer(b, tenant, "watcher", sprint) as watcher,
        contextlib.AsyncExitStack() as stack,
    ):
        started = loop.time()
        await asyncio.gather(
            *(stack.enter_async_context(viewer(a, tenant, f"user{i}", sprint)) for i in range(200))
        )
        await watcher.until(lambda users: len(users) == 201, timeout=60)
        elapsed = loop.time() - started  # the notifiers' own clock: they run on this loop
        for n in (a, b):
            stats = n.app.state.presence.stats
            assert stats.min_spacing is None or stats.min_spacing >= interval
        # At most one diff per interval of the notifier's clock (and far fewer than 200).
        assert len(watcher.diffs()) <= elapsed / interval + 1
        assert len(watcher.diffs()) < 50


@pytest.fixture
def doomed(nats_url: str, bucket: str, tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    """A notifier as the stack runs it, in a process of its own (to be killed)."""
    port, log = free_port(), tmp_path / "doomed.log"
    settings = {f"NOTIFIER_{k.upper()}": str(v) for k, v in fast(bucket).items()}
    proc = start_notifier_process(nats_url, port, log, NOTIFIER_INSTANCE_ID="doomed", **settings)
    try:
        yield port, log, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=20)


async def ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, asyncio.timeout(30):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/health/ready")).status_code == 200:
                    return
            assert proc.poll() is None, f"the notifier process exited (its log: {log})"
            await asyncio.sleep(0.05)


async def test_a_killed_instances_users_leave_on_the_other_instance(
    nats_url: str, tenant: str, bucket: str, doomed: tuple[int, Path, subprocess.Popen[bytes]]
) -> None:
    port, log, proc = doomed
    sprint = str(uuid.uuid4())
    async with (
        run_notifier(nats_url, instance_id="survivor", **fast(bucket)) as survivor,
        viewer(survivor, tenant, "bob", sprint) as bob,
    ):
        await ready(port, proc, log)
        sockets = []
        try:
            for sub in ("ann", "cat"):
                ws = await connect(f"ws://127.0.0.1:{port}/api/v1/ws/tasks")
                sockets.append(ws)
                c = Client.reading(ws)
                await c.send({"type": "auth", "token": token(tenant, sub)})
                await c.control("welcome")
                await Viewers(c).subscribe(sprint)
            await bob.until(lambda users: users.keys() == {uid("ann"), uid("bob"), uid("cat")})
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 20)
            # Nobody closed those sockets: their users leave when the dead instance's keys pass the TTL.
            await bob.until(lambda users: users.keys() == {uid("bob")})
            leaves = sorted(u["user_id"] for d in bob.diffs() for u in d["leaves"])
            assert leaves == sorted([uid("ann"), uid("cat")])
        finally:
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()


async def test_a_resuming_board_gets_presence_between_subscribed_and_its_replay(
    nats_url: str, tenant: str, bucket: str
) -> None:
    board = Board(tenant)
    async with two(nats_url, bucket) as (a, _), publisher(nats_url) as pub:
        async with client(a, token(tenant, "ann"), auth="frame") as c:
            welcome = await c.control("welcome")
            for _ in range(5):
                await pub.publish(make_event(board))
            # As the board reconnects: auth by frame, then a resume of its sprint from before those events.
            resume = {"seq": welcome["seq"], "epoch": welcome["epoch"]}
            await c.send({"type": "subscribe", "sprint_id": str(board.sprint_id), "resume_from": resume})
            frames = [await c.frame() for _ in range(7)]
        kinds = [f["type"] for f in frames]
        assert kinds == ["subscribed", "presence", *["ownership_taken"] * 5]
        assert frames[1]["users"] == [{"user_id": uid("ann"), "name": "Ann"}]
