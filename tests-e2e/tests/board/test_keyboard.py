"""The board from the keyboard alone: every action reachable with Tab and pressed with Enter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import expect

if TYPE_CHECKING:
    from conftest import OpenBoard, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow

FOCUSED = """() => {
  const el = document.activeElement;
  const card = el && el.closest('[data-task-id]');
  const style = getComputedStyle(el);
  return {
    task: card ? card.dataset.taskId : null,
    action: el.dataset.action || null,
    tag: el.tagName,
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
  };
}"""


async def focused(board: BoardPage) -> dict[str, Any]:
    result: dict[str, Any] = await board.page.evaluate(FOCUSED)
    return result


async def tab_to(board: BoardPage, task: str, action: str, limit: int = 40) -> None:
    for _ in range(limit):
        await board.page.keyboard.press("Tab")
        now = await focused(board)
        if now["task"] == task and now["action"] == action:
            return
    raise AssertionError(f"{action} of {task} not reached with {limit} Tabs")


async def press_enter_and_settle(board: BoardPage, task: str, status: str) -> None:
    await board.page.keyboard.press("Enter")
    await expect(board.card(task)).to_have_attribute("data-status", status)
    await expect(board.card(task)).not_to_have_attribute("data-pending", "true")


async def test_take_start_and_complete_with_tab_and_enter(open_board: OpenBoard, sprint: Sprint) -> None:
    board = await open_board("alice", sprint)
    task, after = sprint.tasks["Show the new owner"], sprint.tasks["Toast the change"]

    await tab_to(board, task, "take")
    assert (await focused(board))["outline"], "keyboard focus is not visible"
    await press_enter_and_settle(board, task, "owned")
    # Focus stays on the card, on its next action.
    assert await focused(board) == {"task": task, "action": "start", "tag": "BUTTON", "outline": True}
    await press_enter_and_settle(board, task, "inprogress")
    assert (await focused(board))["action"] == "complete"
    await press_enter_and_settle(board, task, "completed")
    assert (await focused(board))["task"] == task  # no buttons left: the card itself holds focus
    await board.page.keyboard.press("Tab")
    assert await focused(board) == {"task": after, "action": "take", "tag": "BUTTON", "outline": True}

    await press_enter_and_settle(board, after, "owned")
    await tab_to(board, after, "release", limit=3)
    await press_enter_and_settle(board, after, "available")


async def test_filters_work_from_the_keyboard(open_board: OpenBoard, sprint: Sprint) -> None:
    board = await open_board("alice", sprint)
    available = board.status_filter("Available")
    await board.page.keyboard.press("Tab")  # the skip link comes first
    for _ in range(10):
        if await available.evaluate("el => el === document.activeElement"):
            break
        await board.page.keyboard.press("Tab")
    await board.page.keyboard.press("Space")
    await expect(available).to_be_checked()
    await expect(board.showing).to_have_text("Showing 3 of 3 tasks")
    await board.page.keyboard.press("Tab")  # to the next status
    await board.page.keyboard.press("Space")
    await expect(board.status_filter("Owned")).to_be_checked()
    await expect(board.showing).to_have_text("Showing 3 of 3 tasks")
    group_by_story = board.page.get_by_role("radio", name="Story", exact=True)
    await group_by_story.focus()
    await board.page.keyboard.press("ArrowRight")
    await expect(board.page.get_by_role("radio", name="Status", exact=True)).to_be_checked()
    await expect(board.groups.locator(".group-title")).to_have_text(["Available"])
