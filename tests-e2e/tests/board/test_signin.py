"""Dev sign-in and the way to a board: seeded users, a pasted token, the sprint list, the redirects."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.async_api import expect

from sprintboard_devstack.stack import Stack

if TYPE_CHECKING:
    from conftest import Api, NewPage, NewUser, Sprint

pytestmark = pytest.mark.slow


async def test_root_leads_to_the_sign_in_page_listing_the_seeded_users(new_page: NewPage) -> None:
    board = await new_page()
    await board.page.goto(f"{board.base_url}/")
    await expect(board.page).to_have_url(re.compile(r"/signin$"))
    await expect(board.page.get_by_role("heading", name="Sign in to Sprintboard")).to_be_visible()
    await expect(board.page.get_by_role("button", name="Alice Anders")).to_be_visible()
    await expect(board.page.get_by_role("button", name="Bob Berger")).to_be_visible()


async def test_the_sign_in_heading_has_focus_for_screen_readers_but_no_focus_ring(new_page: NewPage) -> None:
    board = await new_page()
    await board.page.goto(f"{board.base_url}/signin")
    heading = board.page.get_by_role("heading", name="Sign in to Sprintboard")
    await expect(heading).to_be_focused()
    outline = await heading.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "none", "a focused heading is not a control: no ring that makes it look like one"
    # Keyboard focus on the controls keeps its ring.
    await board.page.keyboard.press("Tab")
    ring = await board.page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"


async def test_dev_sign_in_lists_the_projects_and_opens_the_seeded_sprint(
    new_page: NewPage, alice: Api, sprint: Sprint
) -> None:
    board = await new_page()  # with two active sprints in the tenant, the page lists them
    await board.sign_in("Alice Anders")
    await expect(board.page.get_by_role("heading", name="Signed in as Alice Anders")).to_be_visible()
    demo = board.page.locator(".project", has_text="Sprintboard demo")
    await demo.get_by_role("link", name=re.compile("Sprint 1")).click()

    await expect(board.page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}/sprints/[0-9a-f-]{36}$"))
    sprint_id = board.page.url.rsplit("/", 1)[1]
    expected = (await alice.board(sprint_id))["sprint"]
    await expect(board.page.get_by_role("heading", level=1)).to_have_text("Sprint 1")
    await expect(board.page.get_by_text("Ship the live board")).to_be_visible()
    await expect(board.page.locator('[data-field="remaining"]')).to_have_text(
        f"{expected['daysRemaining']} days remaining"
    )
    await expect(board.connection).to_have_attribute("data-connection", "live")
    await expect(board.page.locator("#whoami")).to_have_text("Alice Anders")


async def test_a_pasted_bearer_token_signs_in(new_page: NewPage, bob: Api, sprint: Sprint) -> None:
    board = await new_page()
    await board.page.goto(f"{board.base_url}/signin")
    await board.page.get_by_label("Bearer token from your identity provider").fill(bob.token)
    await board.page.get_by_role("button", name="Use token").click()
    await expect(board.page.get_by_role("heading", name="Signed in as Bob Berger")).to_be_visible()


async def test_a_new_user_with_one_active_sprint_goes_straight_to_it(
    new_page: NewPage, new_user: NewUser
) -> None:
    carol = await new_user(f"carol-{uuid.uuid4().hex[:8]}", "Carol Chen", f"acme-{uuid.uuid4().hex[:8]}")
    sprint = await carol.new_sprint({"Onboarding": ["Say hello"]}, name="Carol's first sprint")

    board = await new_page()
    await board.page.goto(f"{board.base_url}/signin")
    await board.page.get_by_label("Bearer token from your identity provider").fill(carol.token)
    await board.page.get_by_role("button", name="Use token").click()
    await expect(board.page).to_have_url(re.compile(f"{sprint.path}$"))
    await expect(board.page.get_by_role("heading", level=1)).to_have_text("Carol's first sprint")
    await expect(board.card(sprint.tasks["Say hello"])).to_have_attribute("data-status", "available")


async def test_a_refused_token_keeps_the_user_on_the_sign_in_page(new_page: NewPage) -> None:
    board = await new_page()
    await board.page.goto(f"{board.base_url}/signin")
    await board.page.get_by_label("Bearer token from your identity provider").fill("not-a-token")
    await board.page.get_by_role("button", name="Use token").click()
    await expect(board.page.get_by_text("That token was not accepted")).to_be_visible()
    await expect(board.page.get_by_role("button", name="Alice Anders")).to_be_visible()


async def test_a_board_without_a_token_asks_for_sign_in_then_returns(new_page: NewPage, alice: Api) -> None:
    projects = await alice.call("GET", "/projects")
    demo = next(p for p in projects if p["name"] == "Sprintboard demo")
    active = await alice.call("GET", f"/projects/{demo['id']}/sprints/active")
    path = f"/projects/{demo['id']}/sprints/{active['id']}"

    board = await new_page()
    await board.page.goto(f"{board.base_url}{path}")
    await expect(board.page).to_have_url(re.compile(r"/signin\?next="))
    await board.page.get_by_role("button", name="Bob Berger").click()
    await expect(board.page).to_have_url(re.compile(f"{path}$"))
    await expect(board.page.get_by_role("heading", level=1)).to_have_text("Sprint 1")


async def test_the_page_is_told_where_the_notifier_is(board_stack: Stack, base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        config = (await client.get("/api/v1/board/config")).json()
    notifier = board_stack.notifiers[0]
    assert config == {"notifierUrl": f"ws://{notifier.host}:{notifier.port}/api/v1/ws/tasks", "devAuth": True}


async def test_another_teams_sprint_is_not_shown(
    new_page: NewPage, new_user: NewUser, seeded: Sprint
) -> None:
    dave = await new_user(f"dave-{uuid.uuid4().hex[:8]}", "Dave Dunn", f"other-{uuid.uuid4().hex[:8]}")
    board = await new_page()
    await board.page.goto(f"{board.base_url}/signin?next={seeded.path}")
    await board.page.get_by_label("Bearer token from your identity provider").fill(dave.token)
    await board.page.get_by_role("button", name="Use token").click()
    await expect(board.page).to_have_url(re.compile(f"{seeded.path}$"))
    await expect(board.page.get_by_role("alert")).to_contain_text("The board could not be loaded")
    await expect(board.page.locator("[data-task-id]")).to_have_count(0)
