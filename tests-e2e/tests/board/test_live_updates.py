"""Two users on one sprint: what one does shows on the other's board at once, with a short toast.
The reference product's manual test plan, automated."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

if TYPE_CHECKING:
    from conftest import Api, OpenBoard, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow


TOAST_MS = 3000  # how long a toast stays (toast.js)


async def stop_time(board: BoardPage) -> None:
    """Stop the page's clock (a fake one, from now on): its timers run only when the test says."""
    await board.page.clock.install()
    await board.stop_clock()


async def toast_stays_its_time(board: BoardPage, title: str) -> None:
    """On a stopped clock: the toast is still shown just before its 3 s are up, and gone at 3 s. Page
    time, not wall time: a slow machine changes nothing."""
    toast = board.toast(title)
    await toast.wait_for(state="visible")
    await board.page.clock.run_for(TOAST_MS - 1)
    await expect(toast).to_be_visible()
    await board.page.clock.run_for(1)
    await expect(toast).to_have_count(0)
    await board.page.clock.resume()


async def test_take_start_complete_and_release_reach_the_other_board(
    open_board: OpenBoard, sprint: Sprint
) -> None:
    alice_board = await open_board("alice", sprint)
    bob_board = await open_board("bob", sprint)
    first, second = sprint.tasks["Show the new owner"], sprint.tasks["Toast the change"]
    await stop_time(bob_board)

    # Alice takes a task: her card changes at once, Bob's follows with a toast that lasts 3 s.
    await alice_board.action(first, "I'm on it").click()
    await expect(alice_board.owner(first)).to_have_text(re.compile("You$"))
    await expect(alice_board.card(first).locator('[data-field="flag"]')).to_have_text("My Task")
    await expect(bob_board.card(first)).to_have_attribute("data-status", "owned")
    await expect(bob_board.owner(first)).to_have_text(re.compile("Alice Anders$"))
    await expect(bob_board.toast("Task claimed")).to_contain_text("Alice Anders took “Show the new owner”")
    await expect(bob_board.action(first, "I'm on it")).to_have_count(0)
    await toast_stays_its_time(bob_board, "Task claimed")
    await expect(alice_board.toasts).to_have_count(0)  # no toast for the echo of one's own change

    # Status changes: start, then complete; the counts follow.
    await alice_board.action(first, "Start").click()
    await expect(bob_board.card(first)).to_have_attribute("data-status", "inprogress")
    await expect(bob_board.toast("Task status updated")).to_contain_text("is now In progress")
    await alice_board.action(first, "Done it").click()
    await expect(bob_board.card(first)).to_have_attribute("data-status", "completed")
    await expect(bob_board.toast("Task status updated").last).to_contain_text("is now Completed")
    await expect(bob_board.stat("completed")).to_have_text("1 of 3 tasks")
    await expect(bob_board.stat("percent")).to_have_text("33%")

    # A release: Alice takes another task and gives it up; Bob sees it free again.
    await alice_board.action(second, "I'm on it").click()
    await expect(bob_board.owner(second)).to_have_text(re.compile("Alice Anders$"))
    await alice_board.action(second, "Give up").click()
    await expect(alice_board.card(second)).to_have_attribute("data-status", "available")
    await expect(bob_board.card(second)).to_have_attribute("data-status", "available")
    await expect(bob_board.toast("Task released")).to_contain_text("“Toast the change” is available again")
    await expect(bob_board.card(second).locator('[data-field="flag"]')).to_have_text("Available to claim")

    # And the other way round: Bob takes it, Alice is told.
    await bob_board.action(second, "I'm on it").click()
    await expect(alice_board.owner(second)).to_have_text(re.compile("Bob Berger$"))
    await expect(alice_board.toast("Task claimed")).to_contain_text("Bob Berger took “Toast the change”")
    await expect(alice_board.action(second, "I'm on it")).to_have_count(0)


async def test_a_new_task_appears_on_an_open_board(open_board: OpenBoard, sprint: Sprint, alice: Api) -> None:
    bob_board = await open_board("bob", sprint)
    await expect(bob_board.showing).to_have_text("Showing 3 of 3 tasks")
    task_id = await alice.add_task(sprint.stories["Claiming"], "Explain the conflict")
    await expect(bob_board.card(task_id)).to_have_attribute("data-status", "available")
    await expect(bob_board.toast("New task")).to_contain_text("Explain the conflict")
    await expect(bob_board.showing).to_have_text("Showing 4 of 4 tasks")
