"""One socket's protocol, case by case, over a fake connection: auth, expiry and refresh, subscribe and
resume, options, bad frames and abuse limits, the slow reader — the real hub and writer, no server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fake_connection import FakeConnection, Rig, rig
from hub_kit import delivery
from notifier_kit import token

from sprintboard_notifier.closecodes import (
    POLICY_VIOLATION,
    SLOW_CLIENT,
    TOO_BIG,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
)

pytestmark = pytest.mark.unit

TENANT = "org-fake"
SPRINT, OTHER_SPRINT = str(uuid.uuid4()), str(uuid.uuid4())
STORY = str(uuid.uuid4())


def event(seq: int, sprint: str | None = SPRINT, tenant: str = TENANT) -> object:
    return delivery(seq, tenant=tenant, sprint=sprint, story=STORY)


async def welcomed(r: Rig, by: str = "frame", tok: str | None = None) -> FakeConnection:
    tok = tok or token(TENANT)
    if by == "url":
        conn = r.connect(tok)
    else:
        conn = r.connect()
        conn.send({"type": "auth", "token": tok})
    welcome = await conn.next()
    assert welcome["type"] == "welcome" and welcome["epoch"] == r.hub.epoch
    return conn


def seqs(frames: list[dict[str, object]]) -> list[object]:
    out: list[object] = []
    for f in frames:
        if f.get("type") == "batch":
            out.extend(e["seq"] for e in f["events"])  # type: ignore[attr-defined]
        elif "event_id" in f:
            out.append(f["seq"])
    return out


# -- auth -----------------------------------------------------------------------------------------------


async def test_an_auth_frame_or_a_url_token_opens_the_socket() -> None:
    async with rig() as r:
        by_frame = await welcomed(r)
        by_url = await welcomed(r, by="url")
        assert len(r.clients) == 2 and r.metrics.sockets._value.get() == 2
        by_frame.hang_up()
        by_url.hang_up()
        await r.settle()
        assert len(r.clients) == 0 and len(r.hub) == 0 and r.metrics.sockets._value.get() == 0


async def test_refused_tokens_and_a_missing_auth_frame_close_4401() -> None:
    async with rig(auth_timeout_seconds=0.05) as r:
        assert await r.connect("not-a-jwt").close_code() == UNAUTHORIZED
        assert await r.connect(token(TENANT, ttl_seconds=-60)).close_code() == UNAUTHORIZED
        first_not_auth = r.connect()
        first_not_auth.send({"type": "subscribe", "sprint_id": SPRINT})
        assert await first_not_auth.close_code() == UNAUTHORIZED
        garbage = r.connect()
        garbage.send("{not json")
        assert await garbage.close_code() == UNAUTHORIZED
        assert await r.connect().close_code() == UNAUTHORIZED  # says nothing: the auth timeout
        assert len(r.hub) == 0


async def test_a_socket_before_the_stream_is_followed_gets_1013() -> None:
    async with rig() as r:
        r.hub.ready = False
        assert await r.connect(token(TENANT)).close_code() == TRY_AGAIN_LATER


async def test_the_token_expiring_closes_4401() -> None:
    async with rig() as r:
        conn = await welcomed(r, tok=token(TENANT, ttl_seconds=2))
        assert await conn.close_code(timeout=3) == UNAUTHORIZED
        assert conn.closed == (UNAUTHORIZED, "token expired")


async def test_a_refresh_extends_the_session_for_the_same_user_only() -> None:
    async with rig() as r:
        conn = await welcomed(r, tok=token(TENANT, ttl_seconds=2))
        conn.send({"type": "auth", "token": token(TENANT, ttl_seconds=600)})
        assert (await conn.next("token_refreshed"))["exp"] > 0
        conn.send({"type": "auth", "token": token(TENANT, sub="mallory")})
        assert (await conn.next("error"))["code"] == "identity_mismatch"
        await asyncio.sleep(2.2)  # past the first token's expiry
        assert conn.closed is None
        conn.send({"type": "auth", "token": "garbage"})
        assert await conn.close_code() == UNAUTHORIZED


# -- subscriptions and the first events ---------------------------------------------------------------


async def test_subscribe_and_unsubscribe_select_the_events() -> None:
    async with rig() as r:
        conn = await welcomed(r, by="url")
        conn.send({"type": "subscribe", "sprint_id": SPRINT.upper()})
        assert await conn.next() == {"type": "subscribed", "sprint_id": SPRINT, "batch": False}
        await r.settle()
        r.publish(event(1), event(2, sprint=OTHER_SPRINT), event(3, tenant="org-other"))
        assert (await conn.next())["seq"] == 1
        conn.send({"type": "unsubscribe", "sprint_id": SPRINT})
        assert await conn.next() == {"type": "unsubscribed", "sprint_id": SPRINT}
        conn.send({"type": "subscribe", "sprint_id": OTHER_SPRINT})
        await conn.next("subscribed")
        await r.settle()
        r.publish(event(4), event(5, sprint=OTHER_SPRINT))
        await r.settle()
        assert seqs(conn.frames()) == [1, 5]


async def test_a_frame_auth_socket_holds_its_events_until_it_subscribes_or_the_grace_ends() -> None:
    async with rig(subscribe_grace_seconds=0.2) as r:
        board = await welcomed(r)
        r.publish(event(1), event(2, sprint=OTHER_SPRINT))
        await r.settle()
        assert seqs(board.frames()) == []
        board.send({"type": "subscribe", "sprint_id": SPRINT})
        await board.next("subscribed")
        assert (await board.next())["seq"] == 1  # held, then sent under the filter it stated

        silent = await welcomed(r)
        r.publish(event(3))
        await r.settle()
        assert seqs(silent.frames()) == []
        assert (await silent.next(timeout=1))["seq"] == 3  # the grace ended: the tenant-wide feed


async def test_a_url_token_socket_gets_its_tenant_at_once() -> None:
    async with rig() as r:
        conn = await welcomed(r, by="url")
        r.publish(event(1, sprint=None))
        assert (await conn.next())["seq"] == 1


# -- resume -------------------------------------------------------------------------------------------


async def test_resume_replays_what_was_missed_then_goes_live_without_gap_or_duplicate() -> None:
    async with rig(history_events=0) as r:  # every resume reads the (in-memory) store
        r.publish(*(event(seq) for seq in range(1, 6)))
        r.source.during_replay = [event(6), event(7)]
        conn = await welcomed(r)
        conn.send({"type": "subscribe", "sprint_id": SPRINT, "resume_from": {"seq": 2, "epoch": r.hub.epoch}})
        await conn.next("subscribed")
        r.publish(event(8))
        await r.settle()
        r.publish(event(9))
        await r.settle()
        assert seqs(conn.frames()) == [3, 4, 5, 6, 7, 8, 9]
        assert r.metrics.replayed._value.get() == 3  # 6 and 7 came live during the replay: held, then sent


async def test_resume_of_the_tenant_wide_feed_and_from_another_epoch() -> None:
    async with rig() as r:
        r.publish(event(1), event(2, sprint=OTHER_SPRINT))
        conn = await welcomed(r)
        conn.send({"type": "subscribe", "resume_from": {"seq": 0, "epoch": r.hub.epoch}})
        assert await conn.next() == {"type": "subscribed", "batch": False}
        await r.settle()
        assert seqs(conn.frames()) == [1, 2]
        conn.send({"type": "subscribe", "sprint_id": SPRINT, "resume_from": {"seq": 0, "epoch": "another"}})
        resync = await conn.next("resync_required")
        assert resync == {"type": "resync_required", "seq": 2, "epoch": r.hub.epoch}


async def test_a_resume_older_than_the_store_asks_for_a_resync() -> None:
    async with rig(history_events=0) as r:
        r.publish(*(event(seq) for seq in range(1, 6)))
        r.source.first_seq = 4
        conn = await welcomed(r)
        conn.send({"type": "subscribe", "sprint_id": SPRINT, "resume_from": {"seq": 1, "epoch": r.hub.epoch}})
        assert (await conn.next("resync_required"))["seq"] == 5
        assert r.metrics.resyncs._value.get() == 1


# -- options, ping, heartbeats ------------------------------------------------------------------------


async def test_options_batch_wraps_the_events_of_a_window_into_one_frame() -> None:
    async with rig() as r:
        conn = await welcomed(r, by="url")
        conn.send({"type": "options", "batch": True})
        assert await conn.next() == {"type": "options", "batch": True}
        r.publish(*(event(seq) for seq in range(1, 4)))
        batch = await conn.next()
        assert batch["type"] == "batch" and [e["seq"] for e in batch["events"]] == [1, 2, 3]
        conn.send({"type": "subscribe", "sprint_id": SPRINT, "batch": False})
        assert await conn.next() == {"type": "subscribed", "sprint_id": SPRINT, "batch": False}
        r.publish(event(4))
        assert (await conn.next())["seq"] == 4


async def test_ping_gets_pong_and_an_idle_socket_a_heartbeat() -> None:
    async with rig(heartbeat_seconds=30) as r:
        conn = await welcomed(r)
        conn.send({"type": "ping"})
        assert await conn.next() == {"type": "pong"}
        await r.settle()
        r.clients.beat(conn_writer(r).last_sent + 1, 30)  # not idle long enough
        r.clients.beat(conn_writer(r).last_sent + 31, 30)
        assert await conn.next() == {"type": "heartbeat"}
        r.clients.beat(conn_writer(r).last_sent + 1, 30)
        await r.settle()
        assert [f["type"] for f in conn.frames()].count("heartbeat") == 1


def conn_writer(r: Rig) -> object:
    (client,) = r.clients
    return client.writer


# -- bad frames and limits ----------------------------------------------------------------------------


async def test_bad_frames_get_error_frames_then_1008() -> None:
    async with rig(abuse_max_errors=5) as r:
        conn = await welcomed(r)
        for message, code in [
            ("{not json", "invalid_json"),
            ("[]", "invalid_frame"),
            ({"type": "dance"}, "unknown_type"),
            ({"type": "subscribe", "sprint_id": "nope"}, "invalid_frame"),
            ({"type": "subscribe", "sprint_id": SPRINT, "resume_from": {"seq": -1}}, "invalid_frame"),
        ]:
            conn.send(message)
            assert (await conn.next("error"))["code"] == code
        conn.send("[]")
        assert await conn.close_code() == POLICY_VIOLATION
        await r.settle()
        assert len(r.hub) == 0 and len(r.clients) == 0


async def test_too_many_subscriptions_is_an_error_not_a_close() -> None:
    async with rig(max_subscriptions=2) as r:
        conn = await welcomed(r)
        for _ in range(2):
            conn.send({"type": "subscribe", "story_id": str(uuid.uuid4())})
            await conn.next("subscribed")
        conn.send({"type": "subscribe", "story_id": str(uuid.uuid4())})
        assert (await conn.next("error"))["code"] == "too_many_subscriptions"
        assert conn.closed is None


async def test_an_oversized_frame_closes_1009() -> None:
    async with rig(max_frame_bytes=1024) as r:
        conn = await welcomed(r)
        conn.send('{"type":"ping","pad":"' + "é" * 400 + '"}')  # 800 bytes: fine
        await conn.next("pong")
        conn.send('{"type":"ping","pad":"' + "é" * 600 + '"}')  # 600 characters, 1200 bytes
        assert await conn.close_code() == TOO_BIG


async def test_a_slow_reader_is_closed_4008_and_the_others_keep_everything() -> None:
    async with rig(send_queue_frames=4) as r:
        slow, fast = await welcomed(r, by="url"), await welcomed(r, by="url")
        await r.settle()
        slow.pause()
        r.publish(*(event(seq) for seq in range(1, 5)))
        await r.settle()
        assert slow.closed is None
        r.publish(event(5))
        assert slow.closed == (SLOW_CLIENT, "send buffer full")
        assert r.metrics.slow_closes._value.get() == 1
        await r.settle()
        assert seqs(slow.frames()) == []  # its backlog was dropped, the close frame follows
        assert seqs(fast.frames()) == [1, 2, 3, 4, 5]
        assert len(r.hub) == 1


async def test_a_paused_socket_gets_its_backlog_in_order_once_it_drains() -> None:
    async with rig(send_queue_frames=8) as r:
        conn = await welcomed(r, by="url")
        await r.settle()
        conn.pause()
        r.publish(*(event(seq) for seq in range(1, 4)))
        await r.settle()
        assert seqs(conn.frames()) == []
        conn.resume()
        r.publish(event(4))
        await r.settle()
        assert seqs(conn.frames()) == [1, 2, 3, 4]


async def test_a_peer_that_vanishes_leaves_the_hub() -> None:
    async with rig() as r:
        conn = await welcomed(r)
        conn.hang_up()
        await r.settle()
        assert len(r.hub) == 0 and conn.closed is None  # nothing is sent to a peer that is gone
