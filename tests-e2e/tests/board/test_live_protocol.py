"""The page's side of the socket protocol, against a scripted notifier: versions, batches, back-off,
resume, resync and an expired token. The HTTP side is the real backlog."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import WebSocketRoute, expect

from sprintboard_e2e.browser import NOTIFIER_SOCKET
from sprintboard_e2e.environment import DEMO_ORG_ID
from sprintboard_notifier.closecodes import INTERNAL_ERROR, TRY_AGAIN_LATER, UNAUTHORIZED

if TYPE_CHECKING:
    from conftest import Api, NewPage, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow

# Counts the page's sockets: how many it opened, and how many closes it has handled (a close handled means
# its reconnect is scheduled).
SOCKET_COUNTS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = { opened: 0, closed: 0 };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.opened += 1;
      this.addEventListener("close", () => { window.__sockets.closed += 1; });
    }
  };
})();
"""


class ScriptedNotifier:
    """Answers auth with `welcome` and subscribe with `subscribed`; the test sends the rest."""

    def __init__(self, seq: int, epoch: str) -> None:
        self.seq, self.epoch = seq, epoch
        self.down = False
        self.sockets: list[WebSocketRoute] = []
        self.frames: list[list[dict[str, Any]]] = []  # per connection, what the page sent

    async def install(self, board: BoardPage) -> None:
        await board.page.route_web_socket(NOTIFIER_SOCKET, self._connect)

    async def _connect(self, ws: WebSocketRoute) -> None:
        if self.down:
            await ws.close(code=TRY_AGAIN_LATER, reason="not ready")
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

    async def drop(self, code: int = INTERNAL_ERROR) -> None:
        await self.sockets[-1].close(code=code, reason="gone")


async def sockets_opened(board: BoardPage) -> int:
    """Sockets the page opened so far, once it has handled the close of every one before (page time is
    stopped, so nothing else moves meanwhile)."""
    for _ in range(600):  # up to a generous 30 s of wall time for the close to arrive
        counts = await board.page.evaluate("window.__sockets")
        if counts["closed"] == counts["opened"]:
            return int(counts["opened"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the page never handled its socket's close: {counts}")


async def next_attempt_after(board: BoardPage, delay_ms: int) -> None:
    """On the stopped clock: no reconnect attempt until `delay_ms` have passed, one right then."""
    opened = await sockets_opened(board)
    await board.page.clock.run_for(delay_ms - 1)
    assert await board.page.evaluate("window.__sockets.opened") == opened, f"a retry before {delay_ms} ms"
    await board.page.clock.run_for(1)
    assert await board.page.evaluate("window.__sockets.opened") == opened + 1, f"no retry at {delay_ms} ms"


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
    await board.page.add_init_script(SOCKET_COUNTS)  # after the route: it wraps the routed WebSocket
    # The reconnect jitter (75-125 % of the back-off) pinned to its low end: waits are exactly 75 %.
    await board.page.add_init_script("Math.random = () => 0;")
    await board.page.clock.install()  # page time flows as usual until the test stops it
    await board.open("Alice Anders", sprint.project_id, sprint.sprint_id)
    t1, t2, t3 = (
        sprint.tasks[t] for t in ("Show the new owner", "Toast the change", "Roll back refused actions")
    )

    auth, subscribe = notifier.frames[0][:2]
    assert auth["type"] == "auth" and auth["token"]
    assert subscribe == {"type": "subscribe", "sprint_id": sprint.sprint_id, "batch": True}
    # The routing hint (spec §4) rides on the socket's URL: the signed-in user's tenant, for the gateway.
    assert parse_qs(urlsplit(notifier.sockets[0].url).query) == {"tenant": [DEMO_ORG_ID]}

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

    # The notifier goes away and refuses for a while: reconnects back off 1 s, 2 s, then 4 s (page time),
    # jittered (here 75 % of each)...
    await board.stop_clock()
    notifier.down = True
    await notifier.drop()
    await expect(board.connection).to_have_attribute("data-connection", "reconnecting")
    await next_attempt_after(board, 750)  # refused
    await next_attempt_after(board, 1500)  # refused
    notifier.down = False
    await next_attempt_after(board, 3000)
    await board.page.clock.resume()
    await expect(board.connection).to_have_attribute("data-connection", "live", timeout=30_000)
    # ...and resume from the last event seen.
    resume = notifier.frames[-1][1]
    assert resume["resume_from"] == {"seq": 104, "epoch": "epoch-1"}
    assert resume["sprint_id"] == sprint.sprint_id

    # resync_required: the board is read again over HTTP, and the next resume starts from there.
    async with board.page.expect_request(re.compile(rf"/api/v1/sprints/{sprint.sprint_id}/tasks$")):
        notifier.send({"type": "resync_required", "seq": 250, "epoch": "epoch-2"})
    # Once live, the back-off starts again from 1 s (75 % of it, jittered).
    await board.stop_clock()
    await notifier.drop()
    await next_attempt_after(board, 750)
    await board.page.clock.resume()
    await expect(board.connection).to_have_attribute("data-connection", "live", timeout=30_000)
    assert notifier.frames[-1][1]["resume_from"] == {"seq": 250, "epoch": "epoch-2"}

    # An expired or refused token closes with 4401: back to sign-in, then to this board.
    await notifier.drop(code=UNAUTHORIZED)
    await expect(board.page).to_have_url(re.compile(r"/signin\?next=%2Fprojects%2F"))
