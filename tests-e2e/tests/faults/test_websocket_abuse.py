"""Hostile sockets against a running notifier: each gets its close code or error frame, well-behaved boards
of two tenants keep receiving every event meanwhile, and no frame crosses tenants."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fault_boards import check_followers
from fault_checks import record
from fault_clients import Driver, User, new_sprint
from fault_stack import read_stream, servers, stream_position, wait_drained
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sprintboard_e2e.following import Follower, following
from sprintboard_kit.tokens import mint_dev_token
from sprintboard_notifier.closecodes import POLICY_VIOLATION, TOO_BIG, UNAUTHORIZED

if TYPE_CHECKING:
    from conftest import StartStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

RIVAL_ORG = "rival-org"
ALLOWED_ORIGIN = "http://board.example"


class Socket:
    """One raw socket and everything it was sent, until the server closes it; `tried` counts what it sent."""

    def __init__(self, ws: ClientConnection, tried: Counter[str]) -> None:
        self.ws = ws
        self.tried = tried
        self.frames: list[dict[str, Any]] = []

    async def send(self, message: str | bytes) -> None:
        self.tried["frames"] += 1
        await self.ws.send(message)

    async def next_of(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic())))
            self.frames.append(frame)
            if frame.get("type") == kind:
                return dict(frame)

    async def closed_with(self, timeout: float = 10) -> int | None:
        """Read until the server closes; the close code it sent."""
        try:
            async with asyncio.timeout(timeout):
                async for message in self.ws:
                    self.frames.append(json.loads(message))
        except ConnectionClosed:
            pass
        return self.ws.close_code

    def events(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if "seq" in f and "task_id" in f] + [
            e for f in self.frames if f.get("type") == "batch" for e in f["events"]
        ]


async def test_hostile_sockets_get_their_close_codes_and_healthy_boards_miss_nothing(
    start_stack: StartStack, test_name: str
) -> None:
    stack = await start_stack(notifiers=1, NOTIFIER_ALLOWED_ORIGINS=ALLOWED_ORIGIN)
    assert stack.seed is not None
    notifier = stack.notifiers[0]
    url = f"ws://{stack.host}:{notifier.port}/api/v1/ws/tasks"
    org = stack.seed.org_id
    ours = [User(stack, f"ours-{n}") for n in range(2)]
    rivals = [User(stack, f"rival-{n}", org_id=RIVAL_ORG) for n in range(2)]
    our_sprint = await new_sprint(ours[0], tasks=4, name="Ours")
    rival_sprint = await new_sprint(rivals[0], tasks=4, name="Rivals")
    await wait_drained(stack)
    position = await stream_position(servers(stack))

    def token(sub: str, org_id: str = org, secret: str | None = None, ttl: int = 3600) -> str:
        return mint_dev_token(secret or stack.jwt_secret, sub, sub, None, org_id=org_id, ttl_seconds=ttl)

    boards = [
        Follower("ours-sprint", [url], ours[0].token, org, our_sprint.sprint_id, position),
        Follower("ours-tenant", [url], ours[1].token, org, None, position, batch=True),
        Follower("rivals-sprint", [url], rivals[0].token, RIVAL_ORG, rival_sprint.sprint_id, position),
        Follower("rivals-tenant", [url], rivals[1].token, RIVAL_ORG, None, position),
    ]

    tried: Counter[str] = Counter()  # what the hostile cases really sent: sockets opened, frames

    async def open_socket(query: str = "", origin: str | None = None) -> Socket:
        tried["sockets"] += 1
        ws = await connect(url + query, origin=origin, max_size=None, open_timeout=5)  # type: ignore[arg-type]
        return Socket(ws, tried)

    async def signed_in(sub: str = "mallory", org_id: str = org) -> Socket:
        s = await open_socket()
        await s.send(json.dumps({"type": "auth", "token": token(sub, org_id)}))
        await s.next_of("welcome")
        return s

    async def still_answers(s: Socket) -> bool:
        await s.send(json.dumps({"type": "ping"}))
        await s.next_of("pong")
        return True

    # Each case returns what it observed; the test asserts it equals what the protocol promises.
    async def closed(first: str | bytes | None, query: str = "", timeout: float = 30) -> Any:
        s = await open_socket(query)
        if first is not None:
            await s.send(first)
        return await s.closed_with(timeout)

    async def error_then_alive(frame: str | bytes) -> Any:
        s = await signed_in()
        await s.send(frame)
        code = (await s.next_of("error"))["code"]
        alive = await still_answers(s)
        await s.ws.close()
        return code, alive

    async def oversized() -> Any:
        s = await signed_in()
        await s.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        return await s.closed_with()

    async def bad_frame_flood() -> Any:
        s = await signed_in()
        for n in range(30):
            await s.send(f"not json {n}")
        code = await s.closed_with()
        return code, sum(1 for f in s.frames if f.get("type") == "error")

    async def subscribe_flood() -> Any:
        s = await signed_in()
        for _ in range(150):
            await s.send(json.dumps({"type": "subscribe", "sprint_id": str(uuid.uuid4())}))
        code = await s.closed_with()
        subscribed = sum(1 for f in s.frames if f.get("type") == "subscribed")
        refused = {f["code"] for f in s.frames if f.get("type") == "error"}
        return code, subscribed, sorted(refused)

    async def expires_while_connected() -> Any:
        """Welcomed first (the token was good), then closed for its expiry: the close itself is awaited."""
        s = await open_socket()
        await s.send(json.dumps({"type": "auth", "token": token("brief", ttl=2)}))
        welcomed = (await s.next_of("welcome"))["type"]
        return welcomed, await s.closed_with(timeout=60)

    async def silent_crowd() -> Any:
        sockets = [await open_socket() for _ in range(50)]  # connect, never authenticate
        return sorted(set(await asyncio.gather(*(s.closed_with(timeout=30) for s in sockets))))

    async def refresh_as_someone_else() -> Any:
        s = await signed_in("mallory")
        await s.send(json.dumps({"type": "auth", "token": token("mallory", RIVAL_ORG)}))
        return (await s.next_of("error"))["code"], await still_answers(s)

    spies: list[Socket] = []

    async def spy_on_other_tenant() -> Any:
        """A rival subscribes to our sprint (and project) by id: acknowledged, but nothing ever arrives."""
        s = await signed_in("spy", RIVAL_ORG)
        await s.send(json.dumps({"type": "subscribe", "sprint_id": our_sprint.sprint_id}))
        await s.send(json.dumps({"type": "subscribe", "project_id": our_sprint.project_id}))
        await s.next_of("subscribed")
        spies.append(s)
        return "subscribed"

    async def bad_origin() -> Any:
        try:
            await open_socket(origin="http://evil.example")
        except InvalidStatus as exc:
            return exc.response.status_code
        return "accepted"

    forged = mint_dev_token("not-the-secret-" + "z" * 40, "eve", "Eve", None, org_id=org)
    cases: dict[str, tuple[Callable[[], Awaitable[Any]], Any]] = {
        "garbage token in the auth frame": (
            lambda: closed(json.dumps({"type": "auth", "token": "garbage"})),
            UNAUTHORIZED,
        ),
        "garbage token on the URL": (lambda: closed(None, "?token=garbage"), UNAUTHORIZED),
        "forged signature": (lambda: closed(json.dumps({"type": "auth", "token": forged})), UNAUTHORIZED),
        "expired token": (
            lambda: closed(json.dumps({"type": "auth", "token": token("old", ttl=-60)})),
            UNAUTHORIZED,
        ),
        "token expiring while connected": (expires_while_connected, ("welcome", UNAUTHORIZED)),
        "first frame not auth": (
            lambda: closed(json.dumps({"type": "subscribe", "sprint_id": str(uuid.uuid4())})),
            UNAUTHORIZED,
        ),
        "no auth within 5 s": (lambda: closed(None), UNAUTHORIZED),
        "50 silent sockets": (silent_crowd, [UNAUTHORIZED]),
        "invalid JSON": (lambda: error_then_alive("{not json"), ("invalid_json", True)),
        "binary garbage": (lambda: error_then_alive(b"\xff\xfe\x00"), ("invalid_json", True)),
        "nesting beyond the parser's depth": (lambda: error_then_alive("[" * 5000), ("invalid_json", True)),
        "unknown type": (lambda: error_then_alive(json.dumps({"type": "hack"})), ("unknown_type", True)),
        "subscribe to a non-UUID": (
            lambda: error_then_alive(json.dumps({"type": "subscribe", "sprint_id": "'; DROP TABLE"})),
            ("invalid_frame", True),
        ),
        "resume from a bogus position": (
            lambda: error_then_alive(
                json.dumps({"type": "subscribe", "resume_from": {"seq": -1, "epoch": 7}})
            ),
            ("invalid_frame", True),
        ),
        "frame over 64 KiB": (oversized, TOO_BIG),
        "flood of bad frames": (bad_frame_flood, (POLICY_VIOLATION, 20)),
        "flood of subscribes": (subscribe_flood, (POLICY_VIOLATION, 100, ["too_many_subscriptions"])),
        "refresh with another tenant's token": (refresh_as_someone_else, ("identity_mismatch", True)),
        "subscribe to another tenant's sprint": (spy_on_other_tenant, "subscribed"),
        "disallowed Origin": (bad_origin, 403),
    }

    driver = Driver({ours[1]: our_sprint.task_ids, rivals[1]: rival_sprint.task_ids}, pace=0.01)
    async with following(boards):
        driver.start()
        try:
            results = await asyncio.gather(*(run() for run, _ in cases.values()), return_exceptions=True)
            await driver.wait_sent(driver.sent + 100)
        finally:
            await driver.stop()
            for u in ours + rivals:
                await u.close()
        await wait_drained(stack)
        events = await read_stream(servers(stack))
        async with httpx.AsyncClient(timeout=5) as client:
            ready = await client.get(f"{notifier.url}/health/ready")
        # What a spy could have seen went by while it was connected: still nothing of ours.
        for spy in spies:
            with pytest.raises(TimeoutError):
                await spy.next_of("never", timeout=0.5)
            await spy.ws.close()

    observed = dict(zip(cases, results, strict=True))
    wrong = {name: (got, cases[name][1]) for name, got in observed.items() if got != cases[name][1]}
    assert not wrong, "\n".join(f"{name}: got {got!r}, want {want!r}" for name, (got, want) in wrong.items())
    assert ready.status_code == 200, ready.text
    spied = sum(len(s.events()) for s in spies)
    assert not spied, "a rival received our events"

    after = [e for e in events if e.seq > position[0]]
    figures: dict[str, int] = {}
    for board in boards:
        tenant = org if board.name.startswith("ours") else RIVAL_ORG
        expected = [
            e
            for e in after
            if e.data["tenant_id"] == tenant and board.sprint_id in (None, e.data["sprint_id"])
        ]
        await board.wait_for(expected[-1].seq, 20)
        for name, value in check_followers([board], expected).items():
            figures[name] = figures.get(name, 0) + value
    figures["frames_across_tenants"] += spied
    record(
        test_name,
        **figures,
        events_checked=len(after),
        abuse_cases=len(cases),
        inputs_tried=tried["sockets"] + tried["frames"],
        sockets_opened=tried["sockets"],
        frames_sent=tried["frames"],
    )
