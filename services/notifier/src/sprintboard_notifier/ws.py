"""The FastAPI route `GET /api/v1/ws/tasks`: Origin check, accept, then hand the socket to the gateway."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from sprintboard_notifier.gateway import POLICY_VIOLATION, Gateway
from sprintboard_notifier.settings import NotifierSettings
from sprintboard_notifier.transport import StarletteConnection

router = APIRouter()


@router.websocket("/api/v1/ws/tasks")
async def tasks_socket(websocket: WebSocket) -> None:
    settings: NotifierSettings = websocket.state.settings
    gateway: Gateway = websocket.state.gateway
    if not settings.origin_allowed(websocket.headers.get("origin")):
        # Closing before accept makes the server answer the upgrade with 403.
        await websocket.close(POLICY_VIOLATION)
        return
    await websocket.accept()
    await gateway.serve(StarletteConnection(websocket), websocket.query_params.get("token"))
