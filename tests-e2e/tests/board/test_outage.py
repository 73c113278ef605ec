"""A notifier outage with the board open: reconnecting, then live again, with every change caught up."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import WebSocket, expect

if TYPE_CHECKING:
    from conftest import Api, OpenBoard, Sprint

    from sprintboard_devstack.stack import Stack

pytestmark = pytest.mark.slow


async def test_the_board_resumes_after_the_notifier_comes_back(
    open_board: OpenBoard, sprint: Sprint, bob: Api, board_stack: Stack
) -> None:
    board = await open_board("alice", sprint)
    page = board.page
    first, second = sprint.tasks["Show the new owner"], sprint.tasks["Roll back refused actions"]

    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None
    )
    reloads: list[str] = []
    page.on(
        "request", lambda r: reloads.append(r.url) if f"/sprints/{sprint.sprint_id}/tasks" in r.url else None
    )
    sent: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on(
            "framesent",
            lambda payload: sent.append(payload if isinstance(payload, str) else payload.decode()),
        )

    page.on("websocket", watch)

    notifier = board_stack.notifiers[0]
    try:
        await asyncio.to_thread(notifier.stop)
        await expect(board.connection).to_have_attribute("data-connection", "reconnecting")
        await expect(board.connection).to_have_text(re.compile("Reconnecting"))
        await bob.take(first)
        await bob.start(first)
        await bob.take(second)
    finally:
        await asyncio.to_thread(notifier.start)

    # Back-off is at most 4 s apart by now (1, 2, 4 s...): live again well within the bound.
    await expect(board.connection).to_have_attribute("data-connection", "live", timeout=20_000)
    await expect(board.card(first)).to_have_attribute("data-status", "inprogress")
    await expect(board.owner(first)).to_have_text(re.compile("Bob Berger$"))
    await expect(board.card(second)).to_have_attribute("data-status", "owned")
    await expect(board.owner(second)).to_have_text(re.compile("Bob Berger$"))

    assert navigations == [], "the page was reloaded"
    assert reloads == [], (
        "the board was re-read over HTTP: the notifier asked for a resync instead of resuming"
    )
    resumes = [frame for frame in map(json.loads, sent) if frame.get("resume_from")]
    assert resumes, "the page did not resume from its last seq"
    assert resumes[0]["sprint_id"] == sprint.sprint_id
    assert set(resumes[0]["resume_from"]) == {"seq", "epoch"}
