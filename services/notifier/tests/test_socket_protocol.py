"""The socket protocol on a real server, at the edges the fake connection cannot show: close codes on the
wire, uvicorn's frame limit, Origin, heartbeats, batching through NATS. Case by case: test_client.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from notifier_kit import Board, Notifier, client, make_event, publisher, run_notifier, token
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sprintboard_notifier.closecodes import POLICY_VIOLATION, TOO_BIG, UNAUTHORIZED

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notifier(nats_url: str) -> AsyncIterator[Notifier]:
    async with run_notifier(
        nats_url,
        auth_timeout_seconds=0.5,
        heartbeat_seconds=0.4,
        allowed_origins=["https://board.example"],
    ) as running:
        yield running


async def test_no_token_times_out_with_4401(notifier: Notifier) -> None:
    async with client(notifier, None) as c:
        assert await c.close_code(3) == UNAUTHORIZED


async def test_bad_token_and_non_auth_first_frame_get_4401(notifier: Notifier, tenant: str) -> None:
    async with client(notifier, "not-a-jwt") as c:
        assert await c.close_code() == UNAUTHORIZED
    async with client(notifier, token(tenant, ttl_seconds=-60)) as c:
        assert await c.close_code() == UNAUTHORIZED
    async with client(notifier, None) as c:
        await c.send({"type": "subscribe", "sprint_id": str(Board(tenant).sprint_id)})
        assert await c.close_code() == UNAUTHORIZED


async def test_bad_frames_get_error_frames_then_1008(notifier: Notifier, tenant: str) -> None:
    async with client(notifier, token(tenant)) as c:
        await c.control("welcome")
        await c.ws.send("{not json")
        assert (await c.control("error"))["code"] == "invalid_json"
        await c.send({"type": "dance"})
        assert (await c.control("error"))["code"] == "unknown_type"
        await c.send({"type": "subscribe", "sprint_id": "nope"})
        assert (await c.control("error"))["code"] == "invalid_frame"
        await c.send(
            {"type": "subscribe", "sprint_id": str(Board(tenant).sprint_id), "resume_from": {"seq": -1}}
        )
        assert (await c.control("error"))["code"] == "invalid_frame"
        for _ in range(30):
            await c.ws.send("[]")
        assert await c.close_code() == POLICY_VIOLATION


async def test_oversized_frame_closes_1009(notifier: Notifier, tenant: str) -> None:
    async with client(notifier, token(tenant)) as c:
        await c.control("welcome")
        await c.ws.send('{"type":"ping","pad":"' + "x" * 70_000 + '"}')
        assert await c.close_code() == TOO_BIG


async def test_origin_allowlist(notifier: Notifier, tenant: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{notifier.ws_url}?token={token(tenant)}", origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(f"{notifier.ws_url}?token={token(tenant)}", origin="https://board.example") as ws:  # type: ignore[arg-type]
        assert "welcome" in str(await ws.recv())


async def test_idle_socket_gets_heartbeats(notifier: Notifier, tenant: str) -> None:
    async with client(notifier, token(tenant)) as c:
        await c.control("welcome")
        await c.control("heartbeat", timeout=2)
        await c.control("heartbeat", timeout=2)


async def test_batched_frames_carry_every_event_in_order(
    nats_url: str, notifier: Notifier, tenant: str
) -> None:
    board = Board(tenant)
    async with client(notifier, token(tenant)) as c, publisher(nats_url) as pub:
        await c.control("welcome")
        await c.send({"type": "options", "batch": True})
        assert (await c.control("options"))["batch"] is True
        events = [make_event(board) for _ in range(40)]
        await asyncio.gather(*(pub.publish(e) for e in events))
        frames = []
        got: list[str] = []
        while len(got) < 40:
            frame = await c.frame()
            if frame["type"] == "batch":
                frames.append(frame)
                got.extend(e["event_id"] for e in frame["events"])
        assert sorted(got) == sorted(str(e.event_id) for e in events)
        assert len(frames) < 40  # at least some arrived together
