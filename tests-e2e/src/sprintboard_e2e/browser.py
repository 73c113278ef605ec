"""Chromium for the browser tests: how it is launched, and a board page seen through its DOM hooks."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from urllib.parse import quote

from playwright.async_api import Browser, Locator, Page, Playwright, WebSocketRoute
from playwright.async_api import Error as PlaywrightError

# No sandbox (containers), and nothing that reaches out to the internet on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NOTIFIER_SOCKET = re.compile(r"/api/v1/ws/tasks")


def chromium_executable() -> str | None:
    """`SPRINTBOARD_CHROMIUM`, else the system's Chromium, else the one `playwright install` provides."""
    given = os.environ.get("SPRINTBOARD_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)


class BoardPage:
    """One user's sprint board in its own browser context, read through the page's data attributes."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def sign_in(self, user_name: str, next_path: str | None = None) -> None:
        """The dev sign-in page: pick the seeded user; with `next_path` the page goes straight there."""
        query = f"?next={quote(next_path)}" if next_path else ""
        await self.page.goto(f"{self.base_url}/signin{query}")
        await self.page.get_by_role("button", name=user_name).click()

    async def open(self, user_name: str, project_id: str, sprint_id: str) -> None:
        await self.sign_in(user_name, f"/projects/{project_id}/sprints/{sprint_id}")
        await self.page.wait_for_url(re.compile(rf"/sprints/{sprint_id}"))
        await self.page.locator('#connection[data-connection="live"]').wait_for()
        await self.page.locator("[data-slot='groups']").wait_for()

    async def stop_clock(self) -> None:
        """Stop the page's fake clock (installed first): its timers then run only when the test advances it.

        Playwright pauses at an absolute page time, and one a few ms ahead can already be past when the
        command lands on a loaded machine ("Cannot fast-forward to the past"): read the time again and
        aim further ahead. Jumping forward fires only timers that were due anyway.
        """
        for ahead_ms in (10, 100, 1000, 5000):
            target = await self.page.evaluate(f"(Date.now() + {ahead_ms}) / 1000")
            try:
                await self.page.clock.pause_at(target)
                return
            except PlaywrightError as exc:
                if "to the past" not in str(exc):
                    raise
        raise AssertionError("the page's clock could not be stopped")

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection")

    def card(self, task_id: str) -> Locator:
        return self.page.locator(f'[data-task-id="{task_id}"]')

    def action(self, task_id: str, label: str) -> Locator:
        return self.card(task_id).get_by_role("button", name=label, exact=True)

    def owner(self, task_id: str) -> Locator:
        return self.card(task_id).locator('[data-field="owner"]')

    @property
    def toasts(self) -> Locator:
        return self.page.locator("#toasts .toast")

    def toast(self, title: str) -> Locator:
        return self.toasts.filter(has_text=title)

    def stat(self, name: str) -> Locator:
        return self.page.locator(f'[data-stat="{name}"]')

    @property
    def showing(self) -> Locator:
        return self.page.locator('[data-field="showing"]')

    def status_filter(self, label: str) -> Locator:
        return self.page.get_by_role("group", name="Status").get_by_role("checkbox", name=re.compile(label))

    async def group_by(self, label: str) -> None:
        await self.page.get_by_role("radio", name=label, exact=True).check()

    @property
    def groups(self) -> Locator:
        return self.page.locator("[data-slot='groups'] > section")


class SocketGate:
    """Sits between a page and the notifier: while shut, event frames from the server are held back
    (control frames pass), so a test can make the page miss a change until it opens the gate again."""

    def __init__(self) -> None:
        self.shut = False
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        self.sent: list[str | bytes] = []  # what the page sent, in order

    async def install(self, page: Page) -> None:
        await page.route_web_socket(NOTIFIER_SOCKET, self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(self._from_page(server))
        server.on_message(self._from_server(ws))

    def _from_page(self, server: WebSocketRoute) -> Callable[[str | bytes], None]:
        def forward(message: str | bytes) -> None:
            self.sent.append(message)
            server.send(message)

        return forward

    def _from_server(self, ws: WebSocketRoute) -> Callable[[str | bytes], None]:
        def forward(message: str | bytes) -> None:
            is_event = '"task_id"' in (message if isinstance(message, str) else message.decode())
            if self.shut and is_event:
                self.held.append((ws, message))
            else:
                ws.send(message)

        return forward

    def close(self) -> None:
        self.shut = True

    async def wait_held(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until the gate holds `count` event frames (bounded)."""
        async with asyncio.timeout(timeout):
            while len(self.held) < count:
                await asyncio.sleep(0.05)

    def open(self) -> None:
        self.shut = False
        held, self.held = self.held, []
        for ws, message in held:
            ws.send(message)
