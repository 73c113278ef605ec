"""Adding and editing tasks on the board: shown at once, live on other boards, rolled back when refused."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Locator, Route, expect

from sprintboard_e2e.browser import SocketGate

if TYPE_CHECKING:
    from conftest import Api, NewPage, OpenBoard, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow

FOCUSED = """() => {
  const el = document.activeElement;
  return { action: el.dataset.action || null, story: el.dataset.storyId || null, id: el.id || null };
}"""


def add_button(board: BoardPage, story_id: str) -> Locator:
    return board.page.locator(f'button[data-action="add-task"][data-story-id="{story_id}"]')


def card_titled(board: BoardPage, title: str) -> Locator:
    heading = board.page.get_by_role("heading", name=title, exact=True)
    return board.page.locator("[data-task-id]").filter(has=heading)


async def test_one_user_adds_a_task_and_edits_another_the_other_sees_both_with_toasts(
    open_board: OpenBoard, sprint: Sprint, alice: Api
) -> None:
    alice_board = await open_board("alice", sprint)
    bob_board = await open_board("bob", sprint)
    story = sprint.stories["Claiming"]

    # Bob adds a task to the "Claiming" story.
    await add_button(bob_board, story).click()
    dialog = bob_board.page.get_by_role("dialog", name="Add task")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Title").fill("Explain the refusal")
    await dialog.get_by_label("Acceptance criteria").fill("AC1, AC3")
    await dialog.get_by_label("Estimate (hours)").fill("3")
    await dialog.get_by_role("button", name="Add task").click()
    await expect(dialog).to_have_count(0)
    added = card_titled(bob_board, "Explain the refusal")
    await expect(added).to_have_count(1)
    await expect(added).not_to_have_attribute("data-pending", "true")  # the real task, not the placeholder
    await expect(added.locator('[data-field="ac"]')).to_have_text("2 AC")
    await expect(added.locator(".hours")).to_have_text("3 h")
    await expect(bob_board.toast("New task")).to_have_count(0)  # no toast for one's own change

    # Alice's board shows it live, in the story's group, with a toast.
    seen = card_titled(alice_board, "Explain the refusal")
    await expect(seen).to_have_count(1)
    await expect(alice_board.toast("New task")).to_contain_text("Explain the refusal")
    group = alice_board.page.locator(f'section[data-group="{story}"]')
    await expect(group.locator("[data-task-id]")).to_have_count(2)
    await expect(alice_board.stat("tasks")).to_have_text("4")

    # Alice edits another task's title and estimate; Bob's board follows.
    task = sprint.tasks["Toast the change"]
    await alice_board.action(task, "Edit").click()
    dialog = alice_board.page.get_by_role("dialog", name="Edit task")
    await expect(dialog.get_by_label("Title")).to_have_value("Toast the change")
    await dialog.get_by_label("Title").fill("Toast every change")
    await dialog.get_by_label("Estimate (hours)").fill("5")
    await dialog.get_by_role("button", name="Save").click()
    await expect(alice_board.card(task).locator(".card-title")).to_have_text("Toast every change")
    await expect(alice_board.card(task)).not_to_have_attribute("data-pending", "true")
    await expect(bob_board.card(task).locator(".card-title")).to_have_text("Toast every change")
    await expect(bob_board.card(task).locator(".hours")).to_have_text("5 h")
    await expect(bob_board.toast("Task updated")).to_contain_text("Toast every change")
    await expect(bob_board.toast("Task updated")).to_have_count(1)  # one edit, one toast (two events)

    # What the server keeps: one new task with its refs and estimate, the edit at its new version.
    board = await alice.board(sprint.sprint_id)
    new = [t for t in board["tasks"] if t["title"] == "Explain the refusal"]
    assert [(t["acceptanceCriteriaRefs"], t["estimatedHours"]) for t in new] == [(["AC1", "AC3"], 3)]
    edited = next(t for t in board["tasks"] if t["id"] == task)
    assert (edited["title"], edited["estimatedHours"], edited["version"]) == ("Toast every change", 5, 3)


async def test_an_add_sends_one_idempotency_key_and_retries_with_it(
    open_board: OpenBoard, sprint: Sprint, alice: Api
) -> None:
    board = await open_board("alice", sprint)
    story = sprint.stories["Live updates"]
    keys: list[str | None] = []
    retried: list[tuple[int, str | None]] = []  # the retry's answer: status and Idempotent-Replayed

    async def first_attempt_lost(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        answer = await route.fetch()  # the request reaches the backlog and the task is made...
        if len(keys) == 1:
            await route.abort("connectionreset")  # ...but the first answer never reaches the page
        else:
            retried.append((answer.status, answer.headers.get("idempotent-replayed")))
            await route.fulfill(response=answer)

    await board.page.route(re.compile(rf"/api/v1/stories/{story}/tasks$"), first_attempt_lost)
    await add_button(board, story).click()
    dialog = board.page.get_by_role("dialog", name="Add task")
    await dialog.get_by_label("Title").fill("Sent twice, made once")
    await dialog.get_by_label("Acceptance criteria").fill("AC2")
    await dialog.get_by_role("button", name="Add task").click()
    async with asyncio.timeout(10):
        while not retried:
            await asyncio.sleep(0.05)
    assert len(keys) == 2 and keys[0] == keys[1], keys
    assert keys[0] is not None and uuid.UUID(keys[0]).version == 4
    assert retried == [(201, "true")], "the retry was answered with the first add's answer"
    added = card_titled(board, "Sent twice, made once")
    await expect(added).to_have_count(1)
    await expect(added).not_to_have_attribute("data-pending", "true")
    await expect(board.toasts.and_(board.page.locator('[data-kind="error"]'))).to_have_count(0)
    titles = [t["title"] for t in (await alice.board(sprint.sprint_id))["tasks"]]
    assert titles.count("Sent twice, made once") == 1


async def test_an_edit_refused_by_the_server_is_rolled_back_with_an_error_toast(
    new_page: NewPage, sprint: Sprint, bob: Api
) -> None:
    task = sprint.tasks["Roll back refused actions"]
    alice_board = await new_page()
    gate = SocketGate()
    await gate.install(alice_board.page)
    await alice_board.open("Alice Anders", sprint.project_id, sprint.sprint_id)

    # Bob takes the task while Alice's page cannot hear about it: on her board it is still free to edit.
    gate.close()
    await bob.take(task)
    await gate.wait_held()
    answer = asyncio.Event()

    async def hold(route: Route) -> None:
        await answer.wait()
        await route.continue_()

    await alice_board.page.route(re.compile(rf"/api/v1/tasks/{task}$"), hold)
    await alice_board.action(task, "Edit").click()
    dialog = alice_board.page.get_by_role("dialog", name="Edit task")
    await dialog.get_by_label("Title").fill("Renamed behind Bob's back")
    await dialog.get_by_role("button", name="Save").click()
    card = alice_board.card(task)
    await expect(card).to_have_attribute("data-pending", "true")
    await expect(card.locator(".card-title")).to_have_text("Renamed behind Bob's back")

    answer.set()  # the backlog answers 403: only the owner may change an owned task
    error = alice_board.toasts.and_(alice_board.page.locator('[data-kind="error"]'))
    await expect(error).to_contain_text("Could not update the task")
    await expect(error).to_contain_text("Only the task's owner can do that.")
    await expect(card.locator(".card-title")).to_have_text("Roll back refused actions")
    await expect(card).not_to_have_attribute("data-pending", "true")
    # The page then asks where the task stands: Bob owns it, so Alice may no longer edit it.
    await expect(alice_board.owner(task)).to_have_text(re.compile("Bob Berger$"))
    await expect(alice_board.action(task, "Edit")).to_have_count(0)
    gate.open()


async def test_a_task_is_added_with_the_keyboard_alone(open_board: OpenBoard, sprint: Sprint) -> None:
    board = await open_board("alice", sprint)
    story = sprint.stories["Claiming"]
    keyboard = board.page.keyboard
    for _ in range(40):
        await keyboard.press("Tab")
        if (await board.page.evaluate(FOCUSED))["story"] == story:
            break
    else:
        raise AssertionError("the story's Add task button is not reached with Tab")
    await keyboard.press("Enter")
    dialog = board.page.get_by_role("dialog", name="Add task")
    await expect(dialog.get_by_label("Title")).to_be_focused()
    await keyboard.type("Typed, not clicked")
    await keyboard.press("Enter")  # no criteria yet: the form says so and goes to the field
    refs = dialog.get_by_label("Acceptance criteria")
    await expect(refs).to_be_focused()
    await expect(refs).to_have_attribute("aria-invalid", "true")
    await expect(dialog.get_by_role("alert")).to_have_text(re.compile("at least one acceptance criterion"))
    await keyboard.type("AC1")
    await keyboard.press("Tab")
    await keyboard.type("2")
    await keyboard.press("Enter")
    await expect(dialog).to_have_count(0)
    added = card_titled(board, "Typed, not clicked")
    await expect(added).not_to_have_attribute("data-pending", "true")
    await expect(added.locator(".hours")).to_have_text("2 h")
    assert (await board.page.evaluate(FOCUSED)) == {"action": "add-task", "story": story, "id": None}

    # Escape leaves the dialog without adding anything.
    await keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await keyboard.type("Never added")
    await keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(card_titled(board, "Never added")).to_have_count(0)
    assert (await board.page.evaluate(FOCUSED))["story"] == story
