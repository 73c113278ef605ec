"""Serves the board's pages and files, and the little configuration the page needs to find the notifier."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "index.html"


def _content_security_policy(notifier_ws_url: str) -> str:
    """Only our own files run; the page talks to its own origin and to the notifier."""
    parts = urlsplit(notifier_ws_url)
    notifier = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"connect-src 'self' {notifier}".strip(),
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def web_router(notifier_ws_url: str, dev_auth: bool) -> APIRouter:
    """`/` and `/signin`, the board page `/projects/{p}/sprints/{s}`, `/static/...` and the page's config."""
    router = APIRouter(tags=["web board"])
    page_headers = {
        "Content-Security-Policy": _content_security_policy(notifier_ws_url),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    def page() -> FileResponse:
        return FileResponse(INDEX, media_type="text/html", headers=page_headers)

    @router.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        # Where the user goes next depends on the token in the browser's session: the sign-in page decides.
        return RedirectResponse("/signin", status_code=307)

    @router.get("/signin", include_in_schema=False)
    async def signin() -> FileResponse:
        return page()

    @router.get("/projects/{project_id}/sprints/{sprint_id}", include_in_schema=False)
    async def board(project_id: UUID, sprint_id: UUID) -> FileResponse:
        return page()

    @router.get("/api/v1/board/config")
    async def board_config() -> dict[str, object]:
        """Where the board's WebSocket is, and whether the dev sign-in is available."""
        return {"notifierUrl": notifier_ws_url, "devAuth": dev_auth}

    router.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    return router
