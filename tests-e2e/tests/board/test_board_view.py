"""What the board shows: header and stat cards, cards, filters with counts, grouping, empty states."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import expect

if TYPE_CHECKING:
    from conftest import Api, OpenBoard, Sprint

    from sprintboard_e2e.browser import BoardPage

pytestmark = pytest.mark.slow

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
STATUS_LABELS = {
    "available": "Available",
    "owned": "Owned",
    "inprogress": "In progress",
    "completed": "Completed",
}


async def names_resolved(board: BoardPage) -> None:
    await expect(board.page.locator('[data-field="owner"]', has_text="…")).to_have_count(0)


async def test_header_stats_and_cards_match_the_api(
    open_board: OpenBoard, alice: Api, seeded: Sprint
) -> None:
    sprint = seeded
    board = await open_board("alice", sprint)
    data = await alice.board(sprint.sprint_id)
    tasks: list[dict[str, Any]] = data["tasks"]
    done = sum(t["status"] == "completed" for t in tasks)

    await expect(board.page.get_by_role("heading", level=1)).to_have_text(data["sprint"]["name"])
    await expect(board.page.locator('[data-field="goal"]')).to_have_text(data["sprint"]["goal"])
    await expect(board.stat("stories")).to_have_text(str(data["sprint"]["totalStories"]))
    await expect(board.stat("tasks")).to_have_text(str(len(tasks)))
    await expect(board.stat("completed")).to_have_text(f"{done} of {len(tasks)} tasks")
    await expect(board.stat("percent")).to_have_text(f"{round(done / len(tasks) * 100)}%")
    await expect(board.page.get_by_role("progressbar")).to_have_attribute(
        "aria-valuenow", str(round(done / len(tasks) * 100))
    )
    await expect(board.showing).to_have_text(f"Showing {len(tasks)} of {len(tasks)} tasks")
    await names_resolved(board)

    me = alice.user["user_id"]
    others = {t["ownerUserId"] for t in tasks} - {None, me}
    names = {user_id: (await alice.call("GET", f"/users/{user_id}"))["name"] for user_id in others}
    for task in tasks:
        card = board.card(task["id"])
        await expect(card).to_have_attribute("data-status", task["status"])
        await expect(card.locator('[data-field="status"]')).to_have_text(STATUS_LABELS[task["status"]])
        await expect(card.locator('[data-field="short-id"]')).to_have_text(f"#{task['id'][:8]}")
        await expect(card.locator('[data-field="ac"]')).to_have_text(
            f"{len(task['acceptanceCriteriaRefs'])} AC"
        )
        await expect(card.get_by_role("heading")).to_have_text(task["title"])
        owner, flags, buttons = (
            card.locator('[data-field="owner"]'),
            card.locator('[data-field="flag"]'),
            card.get_by_role("button"),
        )
        if task["ownerUserId"] is None:
            await expect(owner).to_have_count(0)
            await expect(flags).to_have_text(["Available to claim"])
            await expect(buttons).to_have_text(["I'm on it", "Edit"])
        elif task["ownerUserId"] == me:
            await expect(owner).to_have_text(re.compile(r"You$"))
            await expect(flags).to_have_text(["My Task"])
            expected = {
                "owned": ["Start", "Give up", "Edit"],
                "inprogress": ["Done it", "Give up", "Edit"],
                "completed": [],  # final: nothing to press, nothing to edit
            }
            await expect(buttons).to_have_text(expected[task["status"]])
        else:
            await expect(owner).to_have_text(re.compile(f"{names[task['ownerUserId']]}$"))
            await expect(flags).to_have_count(0)
            await expect(buttons).to_have_count(0)


async def test_screenshots_of_the_seeded_board(open_board: OpenBoard, seeded: Sprint, tmp_path: Path) -> None:
    """The README's screenshots: written to docs/ with SPRINTBOARD_UPDATE_SCREENSHOTS=1, else to a
    temporary folder (a test run leaves the tracked files alone)."""
    folder = DOCS_SCREENSHOTS if os.environ.get("SPRINTBOARD_UPDATE_SCREENSHOTS") == "1" else tmp_path
    await open_board("bob", seeded)  # someone else viewing: his avatar is in the top bar
    board = await open_board("alice", seeded)
    await names_resolved(board)
    viewers = board.page.get_by_role("list", name="People viewing this board")
    await expect(viewers.get_by_role("listitem")).to_have_count(1)
    folder.mkdir(parents=True, exist_ok=True)
    await board.page.screenshot(path=folder / "board.png", full_page=True, animations="disabled")
    await board.group_by("Status")
    await expect(board.groups.first).to_have_attribute("data-group", "available")
    await board.page.screenshot(path=folder / "board-by-status.png", full_page=True, animations="disabled")
    for name in ("board.png", "board-by-status.png"):
        assert (folder / name).stat().st_size > 10_000, f"{name} looks empty"


@pytest.fixture
async def mixed(alice: Api) -> Sprint:
    """Two stories; tasks in every status: two available, one owned, one in progress, one completed."""
    sprint = await alice.new_sprint(
        {"Story A": ["A1 free", "A2 owned", "A3 started"], "Story B": ["B1 free", "B2 done"]}
    )
    t = sprint.tasks
    await alice.take(t["A2 owned"])
    for step in (alice.take, alice.start):
        await step(t["A3 started"])
    for step in (alice.take, alice.start, alice.complete):
        await step(t["B2 done"])
    return sprint


async def test_filters_counts_and_grouping(open_board: OpenBoard, mixed: Sprint) -> None:
    board = await open_board("alice", mixed)
    cards = board.page.locator("[data-task-id]")
    for label, count in (("Available", 2), ("Owned", 1), ("In progress", 1), ("Completed", 1)):
        await expect(board.status_filter(label)).to_be_visible()
        await expect(board.page.locator(f'[data-count="{label.lower().replace(" ", "")}"]')).to_have_text(
            str(count)
        )
    await expect(board.showing).to_have_text("Showing 5 of 5 tasks")
    await expect(board.groups).to_have_count(2)
    clear = board.page.locator(".toolbar").get_by_role("button", name="Clear filters")
    await expect(clear).to_be_disabled()

    await board.status_filter("Owned").check()
    await expect(board.showing).to_have_text("Showing 1 of 5 tasks")
    await expect(cards).to_have_count(1)
    await expect(board.groups).to_have_count(1)  # Story B has no owned task: its group is hidden
    await board.status_filter("Completed").check()
    await expect(board.showing).to_have_text("Showing 2 of 5 tasks")
    await expect(board.groups).to_have_count(2)
    await clear.click()
    await expect(board.showing).to_have_text("Showing 5 of 5 tasks")
    await expect(clear).to_be_disabled()

    await board.group_by("Status")
    titles = board.groups.locator(".group-title")
    await expect(titles).to_have_text(["Available", "Owned", "In progress", "Completed"])
    await board.status_filter("Available").check()
    await expect(titles).to_have_text(["Available"])
    await expect(board.page).to_have_url(re.compile(r"\?status=available&groupBy=status$"))

    await board.page.reload()  # the filters live in the URL
    await expect(board.showing).to_have_text("Showing 2 of 5 tasks")
    await expect(titles).to_have_text(["Available"])


async def test_a_filter_left_without_matches_shows_its_empty_state(
    open_board: OpenBoard, mixed: Sprint
) -> None:
    board = await open_board("alice", mixed)
    await board.status_filter("Owned").check()
    await expect(board.showing).to_have_text("Showing 1 of 5 tasks")
    await board.action(mixed.tasks["A2 owned"], "Start").click()  # the only owned task moves on

    empty = board.page.locator("[data-empty]")
    await expect(empty).to_contain_text("No tasks match these filters")
    await expect(board.showing).to_have_text("Showing 0 of 5 tasks")
    await expect(board.page.locator('[data-count="owned"]')).to_have_text("0")
    await empty.get_by_role("button", name="Clear filters").click()
    await expect(board.showing).to_have_text("Showing 5 of 5 tasks")


async def test_a_sprint_without_tasks_shows_the_empty_state(open_board: OpenBoard, alice: Api) -> None:
    board = await open_board(
        "alice", await alice.new_sprint({"Nothing planned yet": []}, name="Quiet sprint")
    )
    await expect(board.page.get_by_role("heading", level=1)).to_have_text("Quiet sprint")
    await expect(board.page.locator("[data-empty]")).to_contain_text("No tasks in this sprint yet")
    await expect(board.showing).to_have_text("Showing 0 of 0 tasks")
    await expect(board.stat("stories")).to_have_text("1")
    await expect(board.stat("completed")).to_have_text("0 of 0 tasks")
    await expect(board.stat("percent")).to_have_text("0%")
