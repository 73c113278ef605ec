"""The demo seed: a tenant with two users and an active sprint holding tasks in every status; idempotent."""

from __future__ import annotations

from typing import Any

from sprintboard_backlog.entrypoints.seed import DEMO_ORG_ID, seed_demo
from sprintboard_kit.tokens import mint_dev_token, user_id_for


async def test_seed_demo_is_complete_and_idempotent(database_url: str, client: Any, jwt_secret: str) -> None:
    first = await seed_demo(database_url)
    assert first.created is True and first.org_id == DEMO_ORG_ID == first.tenant_id
    assert [(u.sub, uid) for u, uid in first.users] == [
        ("alice", user_id_for(None, "alice")),
        ("bob", user_id_for(None, "bob")),
    ]
    again = await seed_demo(database_url)
    assert again.created is False
    assert (again.project_id, again.sprint_id, again.task_ids) == (
        first.project_id,
        first.sprint_id,
        first.task_ids,
    )

    token = mint_dev_token(jwt_secret, "alice", "Alice Anders", "alice@example.com", DEMO_ORG_ID)
    headers = {"Authorization": f"Bearer {token}"}
    active = (await client.get(f"/api/v1/projects/{first.project_id}/sprints/active", headers=headers)).json()
    assert active["id"] == str(first.sprint_id) and active["status"] == "active"
    board = (await client.get(f"/api/v1/sprints/{first.sprint_id}/tasks", headers=headers)).json()
    tasks = board["tasks"]
    assert {t["status"] for t in tasks} == {"available", "owned", "inprogress", "completed"}
    owners = {t["ownerUserId"] for t in tasks if t["ownerUserId"]}
    assert owners == {str(uid) for _, uid in first.users}
    assert board["sprint"]["totalStories"] == len(first.story_ids) >= 3
    mine = (await client.get("/api/v1/tasks/owned", headers=headers)).json()
    assert mine and all(t["owner_user_id"] == str(first.users[0][1]) for t in mine)
