"""The task invariants hold in the database itself: raw UPDATEs that break them are rejected."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

BAD_UPDATES = [
    "status = 'owned'",  # an owner is required
    "owner_user_id = gen_random_uuid()",  # available with an owner
    "status = 'owned', owner_user_id = gen_random_uuid()",  # owned without owned_at
    "status = 'completed', owner_user_id = gen_random_uuid(), owned_at = now()",  # without completed_at
    "completed_at = now()",  # completed_at while available
    "status = 'done'",
    "estimated_hours = 41",
    "estimated_hours = 0",
    "version = 0",
    "acceptance_criteria_refs = '{}'",
]


@pytest.mark.parametrize("assignment", BAD_UPDATES)
async def test_check_constraints_reject_bad_rows(api: Any, engine: AsyncEngine, assignment: str) -> None:
    *_, task_id = await api("alice").board()
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text(f"UPDATE tasks SET {assignment} WHERE id = :id"), {"id": uuid.UUID(task_id)}
            )


async def test_a_consistent_raw_update_is_accepted(api: Any, engine: AsyncEngine) -> None:
    *_, task_id = await api("alice").board()
    async with engine.begin() as conn:
        result = await conn.execute(
            text(
                "UPDATE tasks SET status = 'owned', owner_user_id = gen_random_uuid(), owned_at = now(),"
                " version = version + 1 WHERE id = :id"
            ),
            {"id": uuid.UUID(task_id)},
        )
    assert result.rowcount == 1


async def test_story_points_and_one_active_sprint_are_enforced(api: Any, engine: AsyncEngine) -> None:
    _, story_id, sprint_id, _ = await api("alice").board()
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE stories SET story_points = 9 WHERE id = :id"), {"id": uuid.UUID(story_id)}
            )
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO sprints SELECT gen_random_uuid(), tenant_id, project_id, 'Other', '',"
                    " 'active', 10, start_date, end_date, now(), now() FROM sprints WHERE id = :id"
                ),
                {"id": uuid.UUID(sprint_id)},
            )
