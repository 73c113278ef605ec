"""Each service serves its API documents: OpenAPI at /docs, AsyncAPI at /asyncapi.json and /asyncapi."""

from __future__ import annotations

import httpx
import pytest

from sprintboard_contracts.subjects import ALL_TASK_EVENTS, NO_SPRINT, EventType, subject_v2_for
from sprintboard_e2e.environment import Deployment


@pytest.mark.parametrize("service", ["backlog", "notifier"])
async def test_each_service_serves_openapi_and_asyncapi(deployment: Deployment, service: str) -> None:
    base = deployment.backlog_url if service == "backlog" else deployment.notifier_urls[0]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for page in ("/docs", "/asyncapi"):
            response = await http.get(page)
            assert response.status_code == 200 and "text/html" in response.headers["content-type"], page
        assert (await http.get("/openapi.json")).json()["info"]["title"].startswith("Sprintboard")
        document = (await http.get("/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    channels = {c["address"]: c for c in document["channels"].values()}
    if service == "backlog":
        # One channel per event type, on the contract's subjects, with the contract's model as payload.
        placeholder = "00000000-0000-0000-0000-000000000000"
        filled = {
            a.replace("{tenant}", "acme").replace("{project_id}", placeholder).replace("{sprint}", NO_SPRINT)
            for a in channels
        }
        assert filled == {subject_v2_for("acme", placeholder, None, kind) for kind in EventType}
        assert set(document["operations"]) == {kind.value for kind in EventType}
        assert {op["action"] for op in document["operations"].values()} == {"send"}
    else:
        # What it consumes, and the presence buckets' keys it writes (spec §4: soft state in NATS).
        presence = "$KV.SPRINTBOARD_PRESENCE.{tenant_token}.{sprint_id}.{instance_token}"
        instances = "$KV.SPRINTBOARD_PRESENCE_INSTANCES.{instance_token}"
        assert set(channels) == {ALL_TASK_EVENTS, presence, instances}
        actions = {
            op["channel"]["$ref"].rsplit("/", 1)[-1]: op["action"] for op in document["operations"].values()
        }
        assert actions == {"task-events": "receive", "presence": "send", "presence-instances": "send"}
        assert {"PresenceEntry", "InstanceHeartbeat"} <= set(document["components"]["schemas"])
    models = {"OwnershipTaken", "OwnershipReleased", "StatusChanged", "TaskCreated", "TaskUpdated"}
    assert models <= set(document["components"]["schemas"])
