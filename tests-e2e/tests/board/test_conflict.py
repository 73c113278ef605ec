"""A refused action: the page shows it at once, then rolls it back with an error toast."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Route, expect

from sprintboard_e2e.browser import SocketGate

if TYPE_CHECKING:
    from conftest import Api, NewPage, Sprint

pytestmark = pytest.mark.slow


async def test_taking_a_task_someone_just_took_is_rolled_back(
    new_page: NewPage, sprint: Sprint, alice: Api
) -> None:
    task = sprint.tasks["Roll back refused actions"]
    bob_board = await new_page()
    gate = SocketGate()
    await gate.install(bob_board.page)
    await bob_board.open("Bob Berger", sprint.project_id, sprint.sprint_id)

    # Alice takes the task while Bob's page cannot hear about it yet.
    gate.close()
    await alice.take(task)
    await gate.wait_held()
    await expect(bob_board.card(task)).to_have_attribute("data-status", "available")

    # Bob's request is held at the network so the optimistic state can be seen before the answer.
    answer = asyncio.Event()

    async def hold(route: Route) -> None:
        await answer.wait()
        await route.continue_()

    await bob_board.page.route(re.compile(rf"/api/v1/tasks/{task}/ownership$"), hold)
    await bob_board.action(task, "I'm on it").click()
    card = bob_board.card(task)
    await expect(card).to_have_attribute("data-pending", "true")
    await expect(bob_board.owner(task)).to_have_text(re.compile("You$"))
    await expect(card.locator('[data-field="flag"]')).to_have_text("My Task")

    answer.set()  # the backlog answers 409: the task is not available any more
    error = bob_board.toasts.and_(bob_board.page.locator('[data-kind="error"]'))
    await expect(error).to_contain_text("Could not take the task")
    await expect(card).not_to_have_attribute("data-pending", "true")
    await expect(card).not_to_have_attribute("data-owner", "me")
    await expect(card.get_by_text("My Task")).to_have_count(0)
    # After the rollback the page asks where the task stands: Alice has it.
    await expect(bob_board.owner(task)).to_have_text(re.compile("Alice Anders$"))
    await expect(card).to_have_attribute("data-status", "owned")
    await expect(bob_board.action(task, "I'm on it")).to_have_count(0)

    # The held event arrives late and changes nothing (its version is not newer).
    await gate.wait_held()
    version = await card.get_attribute("data-version")
    gate.open()
    await expect(card).to_have_attribute("data-version", version or "")
    await expect(bob_board.owner(task)).to_have_text(re.compile("Alice Anders$"))
