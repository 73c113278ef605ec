"""The page's side of the socket protocol, against a scripted notifier: versions, batches, back-off,
resume, resync and an expired token. The HTTP side is the real backlog."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import WebSocketRoute, expect

from sprintboard_e2e.browser import NOTIFIER_SOCKET

if TYPE_CHECKING:
    from conftest import Api, NewPage, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow


class ScriptedNotifier:
    """Answers auth with `welcome` and subscribe with `subscribed`; the test sends the rest."""

    def __init__(self, seq: int, epoch: str) -> None:
        self.seq, self.epoch = seq, epoch
        self.down = False
        self.sockets: list[WebSocketRoute] = []
        self.frames: list[list[dict[str, Any]]] = []  # per connection, what the page sent
        self.attempts: list[float] = []

    async def install(self, board: BoardPage) -> None:
        await board.page.route_web_socket(NOTIFIER_SOCKET, self._connect)

    async def _connect(self, ws: WebSocketRoute) -> None:
        self.attempts.append(time.monotonic())
        if self.down:
            await ws.close(code=1013, reason="not ready")
            return
        frames: list[dict[str, Any]] = []
        self.sockets.append(ws)
        self.frames.append(frames)

        def receive(message: str | bytes) -> None:
            frame = json.loads(message)
            frames.append(frame)
            if frame["type"] == "auth":
                ws.send(
                    json.dumps({"type": "welcome", "session_id": "s1", "seq": self.seq, "epoch": self.epoch})
                )
            elif frame["type"] == "subscribe":
                ws.send(
                    json.dumps({"type": "subscribed", "sprint_id": frame.get("sprint_id"), "batch": True})
                )

        ws.on_message(receive)

    def send(self, frame: dict[str, Any]) -> None:
        self.sockets[-1].send(json.dumps(frame))

    async def drop(self, code: int = 1011) -> None:
        await self.sockets[-1].close(code=code, reason="gone")


def event(sprint: Sprint, kind: str, task: str, version: int, seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "task_id": task,
        "story_id": "00000000-0000-0000-0000-000000000000",
        "sprint_id": sprint.sprint_id,
        "task_version": version,
        "seq": seq,
        "epoch": "epoch-1",
        **fields,
    }


async def test_the_page_follows_the_socket_protocol(new_page: NewPage, sprint: Sprint, bob: Api) -> None:
    bob_id = bob.user["user_id"]
    notifier = ScriptedNotifier(seq=100, epoch="epoch-1")
    board = await new_page()
    await notifier.install(board)
    await board.open("Alice Anders", sprint.project_id, sprint.sprint_id)
    t1, t2, t3 = (
        sprint.tasks[t] for t in ("Show the new owner", "Toast the change", "Roll back refused actions")
    )

    auth, subscribe = notifier.frames[0][:2]
    assert auth["type"] == "auth" and auth["token"]
    assert subscribe == {"type": "subscribe", "sprint_id": sprint.sprint_id, "batch": True}

    # An event whose version is not newer than the card's is ignored; frames are applied in order.
    await expect(board.card(t1)).to_have_attribute("data-version", "1")
    taken = {"status": "owned", "owner_user_id": bob_id, "actor_user_id": bob_id}
    notifier.send(event(sprint, "ownership_taken", t1, 1, 101, **taken))
    notifier.send({"type": "batch", "events": [event(sprint, "ownership_taken", t2, 2, 102, **taken)]})
    await expect(board.owner(t2)).to_have_text(re.compile("Bob Berger$"))
    await expect(board.toast("Task claimed")).to_contain_text("Bob Berger took “Toast the change”")
    await expect(board.card(t1)).to_have_attribute("data-status", "available")

    # A batch of several events for one task applies them all, in order.
    started = {
        "status": "inprogress",
        "old_status": "owned",
        "new_status": "inprogress",
        "actor_user_id": bob_id,
    }
    notifier.send(
        {
            "type": "batch",
            "events": [
                event(sprint, "ownership_taken", t3, 2, 103, **taken),
                event(sprint, "status_changed", t3, 3, 104, **started),
            ],
        }
    )
    await expect(board.card(t3)).to_have_attribute("data-status", "inprogress")
    await expect(board.card(t3)).to_have_attribute("data-version", "3")
    await expect(board.owner(t3)).to_have_text(re.compile("Bob Berger$"))

    # The notifier goes away and refuses for a while: reconnects back off 1 s, 2 s, then 4 s, each
    # jittered to 75–125 % (so a notifier's boards do not all return at the same instant)...
    notifier.down = True
    await notifier.drop()
    dropped = time.monotonic()
    await expect(board.connection).to_have_attribute("data-connection", "reconnecting")
    while len(notifier.attempts) < 3:  # the first connection, then two refused attempts
        await board.page.wait_for_timeout(50)
    notifier.down = False
    await expect(board.connection).to_have_attribute("data-connection", "live", timeout=10_000)
    tries = [dropped, *notifier.attempts[1:]]
    first, second, third = (later - earlier for earlier, later in itertools.pairwise(tries))
    assert 0.7 <= first <= 1.6, first
    assert 1.45 <= second <= 2.85, second
    assert 2.95 <= third <= 5.35, third
    # ...and resume from the last event seen.
    resume = notifier.frames[-1][1]
    assert resume["resume_from"] == {"seq": 104, "epoch": "epoch-1"}
    assert resume["sprint_id"] == sprint.sprint_id

    # resync_required: the board is read again over HTTP, and the next resume starts from there.
    async with board.page.expect_request(re.compile(rf"/api/v1/sprints/{sprint.sprint_id}/tasks$")):
        notifier.send({"type": "resync_required", "seq": 250, "epoch": "epoch-2"})
    await notifier.drop()
    reconnected = time.monotonic()
    await expect(board.connection).to_have_attribute("data-connection", "live")
    assert time.monotonic() - reconnected < 2.0, "the back-off did not start again from 1 s once live"
    assert notifier.frames[-1][1]["resume_from"] == {"seq": 250, "epoch": "epoch-2"}

    # An expired or refused token closes with 4401: back to sign-in, then to this board.
    await notifier.drop(code=4401)
    await expect(board.page).to_have_url(re.compile(r"/signin\?next=%2Fprojects%2F"))
