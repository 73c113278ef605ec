"""`Presence` against a real NATS: instances sharing one pair of buckets, each with its own connection."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from presence_kit import Socket, eventually, fast_settings, running

from sprintboard_notifier.presence import Presence, PresenceSettings, Viewer, Viewing

pytestmark = pytest.mark.integration

ANN, BOB, CAT = Viewer("u-ann", "Ann"), Viewer("u-bob", "Bob"), Viewer("u-cat", "Cat")
EVERYONE = {"u-ann": "Ann", "u-bob": "Bob", "u-cat": "Cat"}


def sprint() -> str:
    return str(uuid.uuid4())


@contextlib.asynccontextmanager
async def two(
    nats_url: str, settings: PresenceSettings
) -> AsyncIterator[tuple[Presence[str], Presence[str]]]:
    """Instances a and b on one bucket, each on its own connection."""
    async with running(nats_url, settings, "a") as a, running(nats_url, settings, "b") as b:
        yield a, b


async def bob_watching(b: Presence[str], tenant: str, s: str) -> Socket:
    """Bob's socket on b: what the other instance's viewers see."""
    watcher = Socket()
    await b.watch(tenant, s, BOB, watcher.send)
    return watcher


async def test_three_users_over_two_instances_see_the_same_presence(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        ann, bob, cat = Socket(), Socket(), Socket()
        await a.watch(tenant, s, ANN, ann.send)
        await b.watch(tenant, s, BOB, bob.send)
        await a.watch(tenant, s, CAT, cat.send)
        await eventually(lambda: ann.users == bob.users == cat.users == EVERYONE)
        assert ann.frames[0]["type"] == bob.frames[0]["type"] == "presence"


async def test_a_new_instance_gets_the_stored_presence_in_its_first_frame(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        ann = Socket()
        await a.watch(tenant, s, ANN, ann.send)
        await eventually(lambda: a.stats.writes >= 1)
        bob = Socket()
        await b.watch(tenant, s, BOB, bob.send)
        # Ann was stored before b followed the sprint: she is in b's first frame (with Bob himself).
        assert bob.frames[0] == {
            "type": "presence",
            "sprint_id": s,
            "users": [{"user_id": "u-ann", "name": "Ann"}, {"user_id": "u-bob", "name": "Bob"}],
        }


async def test_a_second_tab_adds_no_entry_and_the_last_close_leaves_after_the_grace(
    nats_url: str, tenant: str
) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        tab1 = await a.watch(tenant, s, ANN, Socket().send)
        await eventually(lambda: watcher.users == {"u-bob": "Bob", "u-ann": "Ann"})
        diffs = len(watcher.diffs())
        tab2 = await a.watch(tenant, s, ANN, Socket().send)
        tab1.close()
        # Well past the grace and the TTL: the second tab keeps Ann, and nothing was sent for either change.
        await asyncio.sleep(settings.grace_seconds + settings.ttl_seconds)
        assert watcher.users == {"u-bob": "Bob", "u-ann": "Ann"} and len(watcher.diffs()) == diffs
        tab2.close()
        await eventually(lambda: watcher.users == {"u-bob": "Bob"})
        assert watcher.diffs()[-1]["leaves"] == [{"user_id": "u-ann", "name": "Ann"}]


async def test_a_reload_on_another_instance_within_the_grace_is_no_leave(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        first = await a.watch(tenant, s, ANN, Socket().send)
        await eventually(lambda: "u-ann" in watcher.users)
        first.close()
        await b.watch(tenant, s, ANN, Socket().send)  # the reloaded page landed on b
        await asyncio.sleep(settings.grace_seconds + settings.ttl_seconds)
        assert all(not d["leaves"] for d in watcher.diffs())


async def test_a_lost_instances_users_leave_within_the_ttl(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with running(nats_url, settings, "b") as b:
        watcher = await bob_watching(b, tenant, s)
        async with running(nats_url, settings, "a") as a:
            await a.watch(tenant, s, ANN, Socket().send)
            await a.watch(tenant, s, CAT, Socket().send)
            await eventually(lambda: watcher.users == EVERYONE)
        # `a` is gone without a word (its entries stay in the bucket; its heartbeats stop).
        await eventually(lambda: watcher.users == {"u-bob": "Bob"})
        assert sorted(u["user_id"] for d in watcher.diffs() for u in d["leaves"]) == ["u-ann", "u-cat"]


async def test_an_instance_whose_connection_is_gone_is_lost(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with running(nats_url, settings, "b") as b:
        watcher = await bob_watching(b, tenant, s)
        nc = await nats.connect(nats_url)
        a: Presence[str] = Presence(settings, "a", str)
        await a.start(nc)
        try:
            await a.watch(tenant, s, ANN, Socket().send)
            await eventually(lambda: watcher.users == {"u-bob": "Bob", "u-ann": "Ann"})
            await nc.close()  # no cleanup of any kind: `a` lives on, but NATS no longer hears it
            await eventually(lambda: watcher.users == {"u-bob": "Bob"})
            assert watcher.diffs()[-1]["leaves"] == [{"user_id": "u-ann", "name": "Ann"}]
        finally:
            await a.stop()


async def test_a_new_instance_does_not_show_a_lost_instances_stored_entries(
    nats_url: str, tenant: str
) -> None:
    settings, s = fast_settings(), sprint()
    async with running(nats_url, settings, "b") as b:
        watcher = await bob_watching(b, tenant, s)
        async with running(nats_url, settings, "a") as a:
            await a.watch(tenant, s, ANN, Socket().send)
            await eventually(lambda: "u-ann" in watcher.users)
        await eventually(lambda: b.instances == 0)
        # Ann's entry is still stored, but no instance beats for it: a new instance does not show her.
        async with running(nats_url, settings, "c") as c:
            cat = Socket()
            await c.watch(tenant, s, CAT, cat.send)
            assert cat.frames[0]["users"] == [
                {"user_id": "u-bob", "name": "Bob"},
                {"user_id": "u-cat", "name": "Cat"},
            ]


async def test_another_tenants_watchers_of_the_same_sprint_id_see_nothing(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        ours, theirs = Socket(), Socket()
        await a.watch(tenant, s, ANN, ours.send)
        await b.watch(tenant + ".other", s, BOB, theirs.send)
        await a.watch(tenant, s, CAT, Socket().send)
        await eventually(lambda: ours.users == {"u-ann": "Ann", "u-cat": "Cat"})
        await asyncio.sleep(settings.ttl_seconds)
        assert theirs.users == {"u-bob": "Bob"}
        assert all(
            u["user_id"] == "u-bob" for f in theirs.frames for u in f.get("users", []) + f.get("joins", [])
        )


async def test_200_joins_at_once_are_a_few_diffs(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(diff_interval_seconds=0.25), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        viewers = [Viewer(f"u-{i:03}", f"User {i}") for i in range(200)]
        await asyncio.gather(*(a.watch(tenant, s, v, Socket().send) for v in viewers))
        await eventually(lambda: len(watcher.users) == 201)
        # Each instance sends a sprint's diffs at least the interval apart (its own clock), whatever the load.
        for p in (a, b):
            assert p.stats.min_spacing is None or p.stats.min_spacing >= settings.diff_interval_seconds
        # 200 joins reached the other instance in a handful of key writes and diffs, not one each.
        assert a.stats.writes <= 10
        assert len(watcher.diffs()) <= 10


async def test_joins_in_waves_are_one_diff_per_interval_at_most(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(diff_interval_seconds=0.25), sprint()
    loop = asyncio.get_running_loop()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        started = loop.time()
        for wave in range(40):
            await asyncio.gather(
                *(a.watch(tenant, s, Viewer(f"u-{wave}-{i}", "X"), Socket().send) for i in range(5))
            )
            await asyncio.sleep(0.01)
        await eventually(lambda: len(watcher.users) == 201)
        elapsed = loop.time() - started  # the servers' own clock (they share this loop)
        for p in (a, b):
            assert p.stats.min_spacing is None or p.stats.min_spacing >= settings.diff_interval_seconds
        # Per window of the interval at most one diff on each instance: far fewer than the 40 waves.
        assert len(watcher.diffs()) <= elapsed / settings.diff_interval_seconds + 1
        # Key writes: one per diff at most (no refreshes: a key is written when it changes).
        assert a.stats.writes <= elapsed / settings.diff_interval_seconds + 2


async def test_a_sprint_is_followed_only_while_watched(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        w = await a.watch(tenant, s, ANN, Socket().send)
        assert a.sprints == 1
        await eventually(lambda: "u-ann" in watcher.users)
        w.close()
        await eventually(lambda: a.sprints == 0)
        # The last write deleted the key: b sees the leave at once, before any TTL.
        await eventually(lambda: watcher.users == {"u-bob": "Bob"})


async def test_one_sockets_viewing_subscribes_again_opts_out_and_back_in(nats_url: str, tenant: str) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher, mine = Socket(), Socket()
        await b.watch(tenant, s, BOB, watcher.send)
        viewing = Viewing(a, tenant, ANN, mine.send)
        await viewing.subscribe(s)
        await viewing.subscribe(s)  # again: a second `presence`, still one socket of Ann's
        assert [f["type"] for f in mine.frames[:2]] == ["presence", "presence"]
        await eventually(lambda: "u-ann" in watcher.users)
        await viewing.enable(False)  # opted out: Ann's only socket no longer counts
        await eventually(lambda: "u-ann" not in watcher.users)
        sent = len(mine.frames)
        await b.watch(tenant, s, CAT, Socket().send)
        await eventually(lambda: "u-cat" in watcher.users)
        await asyncio.sleep(settings.diff_interval_seconds * 2)
        assert len(mine.frames) == sent  # nothing sent to an opted-out socket
        await viewing.enable(True)
        assert mine.frames[-1]["type"] == "presence"
        await eventually(lambda: "u-ann" in watcher.users and "u-cat" in mine.users)
        viewing.unsubscribe(s)
        await eventually(lambda: "u-ann" not in watcher.users)


async def test_a_quiet_sprint_costs_no_writes_and_a_lost_bucket_is_written_again(
    nats_url: str, tenant: str
) -> None:
    settings, s = fast_settings(), sprint()
    async with two(nats_url, settings) as (a, b):
        watcher = await bob_watching(b, tenant, s)
        await a.watch(tenant, s, ANN, Socket().send)
        await eventually(lambda: "u-ann" in watcher.users)
        writes, beats = a.stats.writes, a.heartbeats
        # Three TTLs of heartbeats only: nobody leaves, and no key is written again.
        await eventually(lambda: a.heartbeats >= beats + 9, timeout=30)
        assert all(not d["leaves"] for d in watcher.diffs())
        assert a.stats.writes == writes
        # The bucket is lost (memory storage and a NATS restart): it is created again and the keys written.
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await js.delete_key_value(settings.bucket)

            async def stored() -> bool:
                with contextlib.suppress(Exception):
                    kv = await js.key_value(settings.bucket)
                    return len(await kv.keys()) == 2
                return False

            async with asyncio.timeout(15):
                while not await stored():
                    await asyncio.sleep(0.1)
        finally:
            await nc.close()
        # The subscriptions are core NATS: they go on over the new bucket, a join on a reaches b's socket.
        await a.watch(tenant, s, CAT, Socket().send)
        await eventually(lambda: "u-cat" in watcher.users)
