"""`/asyncapi.json` and `/asyncapi`: the AsyncAPI document of the events this service publishes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sprintboard_backlog.entrypoints.asyncapi import HTML_DOCUMENT, JSON_DOCUMENT

router = APIRouter(tags=["operations"])


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json() -> FileResponse:
    return FileResponse(JSON_DOCUMENT, media_type="application/json")


@router.get("/asyncapi", include_in_schema=False)
async def asyncapi_page() -> FileResponse:
    return FileResponse(HTML_DOCUMENT, media_type="text/html")
