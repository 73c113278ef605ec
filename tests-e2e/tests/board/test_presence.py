"""Presence on the board: the other viewers' avatars next to the connection indicator, updated live."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import expect

if TYPE_CHECKING:
    from conftest import OpenBoard, Sprint

pytestmark = pytest.mark.slow


async def test_two_users_see_each_other_and_a_closed_tab_leaves(
    open_board: OpenBoard, sprint: Sprint
) -> None:
    alice = await open_board("alice", sprint)
    bob = await open_board("bob", sprint)

    viewers = alice.page.get_by_role("list", name="People viewing this board")
    await expect(viewers.get_by_role("listitem")).to_have_count(1)
    bob_avatar = viewers.get_by_role("listitem").first
    await expect(bob_avatar).to_have_attribute("title", "Bob Berger")
    await expect(bob_avatar).to_have_accessible_name("Bob Berger")  # read as the name, not "BB"
    await expect(bob_avatar.locator("[aria-hidden]")).to_have_text("BB")
    await expect(viewers).to_have_text(re.compile(r"^\s*BB\s*Bob Berger\s*$"))  # nothing but the avatar

    # Bob sees Alice, never himself.
    bob_viewers = bob.page.get_by_role("list", name="People viewing this board")
    await expect(bob_viewers.get_by_role("listitem")).to_have_count(1)
    await expect(bob_viewers.get_by_role("listitem").first).to_have_attribute("title", "Alice Anders")

    # Reachable by keyboard: focusing the avatar shows its name (not only on hover).
    await bob_avatar.focus()
    await expect(bob_avatar).to_be_focused()

    # Bob closes his tab: after the grace, Alice's list is empty and hidden.
    await bob.page.close()
    await expect(viewers.get_by_role("listitem")).to_have_count(0)
    await expect(alice.page.locator("#viewers")).to_be_hidden()
