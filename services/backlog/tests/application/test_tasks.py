"""Task use cases on PostgreSQL: lost races retried from a fresh read; failed writes leave nothing, inside an
idempotent request's enclosing transaction too."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sprintboard_backlog.adapters.tables import idempotency_keys, outbox
from sprintboard_backlog.adapters.tables import tasks as task_rows
from sprintboard_backlog.adapters.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from sprintboard_backlog.application import projects, stories, tasks
from sprintboard_backlog.application.idempotency import Answer, RequestKey, answer_once
from sprintboard_backlog.domain.errors import Conflict
from sprintboard_backlog.domain.events import TaskEvent, TaskStatus
from sprintboard_backlog.domain.user import Actor


def actor(org: str) -> Actor:
    return Actor(user_id=uuid.uuid4(), tenant_id=org, org_id=org)


async def new_task(engine: AsyncEngine, who: Actor) -> Any:
    uow = SqlUnitOfWorkFactory(engine)
    project = await projects.create_project(uow(), projects.CreateProject(who, "P"))
    story = await stories.create_story(uow(), stories.CreateStory(who, project.id, "S"))
    return await tasks.create_task(uow(), tasks.CreateTask(who, story.id, "T", ["AC1"]))


async def event_types(engine: AsyncEngine, task_id: uuid.UUID) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.subject).where(outbox.c.task_id == task_id).order_by(outbox.c.id)
        )
        return [subject.rsplit(".", 1)[1] for (subject,) in rows]


class InterferingUnitOfWork(SqlUnitOfWork):
    """Before its first commit, another user takes the task behind its back (a lost race)."""

    interfered = False

    def __init__(self, engine: AsyncEngine, rival: Actor) -> None:
        super().__init__(engine)
        self.rival = rival

    async def commit(self) -> None:
        if not InterferingUnitOfWork.interfered:
            InterferingUnitOfWork.interfered = True
            write = self.tasks.deferred[0]
            await tasks.take_task(
                SqlUnitOfWorkFactory(self._engine)(), tasks.TakeTask(self.rival, write.task_id)
            )
        await super().commit()


async def test_a_lost_race_is_retried_and_then_refused_by_the_domain(engine: AsyncEngine) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    alice, bob = actor(org), actor(org)
    task = await new_task(engine, alice)
    InterferingUnitOfWork.interfered = False
    with pytest.raises(Conflict) as caught:
        await tasks.take_task(InterferingUnitOfWork(engine, bob), tasks.TakeTask(alice, task.id))
    assert caught.value.code == "task_not_available"
    current = await tasks.get_task(SqlUnitOfWorkFactory(engine)(), alice, task.id)
    assert (current.owner_user_id, current.version) == (bob.user_id, 2)
    assert await event_types(engine, task.id) == ["task_created", "ownership_taken"]


async def test_a_lost_race_that_still_allows_the_change_succeeds_on_retry(engine: AsyncEngine) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    alice = actor(org)
    task = await new_task(engine, alice)
    async with engine.begin() as conn:  # someone else bumps the version between our read and write
        await conn.execute(text("UPDATE tasks SET version = version + 1 WHERE id = :id"), {"id": task.id})
    updated = await tasks.update_task_estimate(
        SqlUnitOfWorkFactory(engine)(), tasks.UpdateTaskEstimate(alice, task.id, 4)
    )
    assert (updated.estimated_hours, updated.version) == (4, 3)


class ReusedEventIdUnitOfWork(SqlUnitOfWork):
    """Gives its event an id the outbox already holds: the outbox insert fails after the task write,
    inside the one statement that carries both."""

    reused_id: uuid.UUID

    def record(self, event: TaskEvent) -> None:
        super().record(dataclasses.replace(event, event_id=self.reused_id))


async def test_a_failing_outbox_insert_undoes_the_task_write(engine: AsyncEngine) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    alice = actor(org)
    task = await new_task(engine, alice)
    async with engine.connect() as conn:
        existing = (
            await conn.execute(select(outbox.c.event_id).where(outbox.c.task_id == task.id))
        ).scalar_one()
    uow = ReusedEventIdUnitOfWork(SqlUnitOfWorkFactory(engine).engine)
    uow.reused_id = existing
    with pytest.raises(asyncpg.UniqueViolationError):
        await tasks.take_task(uow, tasks.TakeTask(alice, task.id))
    current = await tasks.get_task(SqlUnitOfWorkFactory(engine)(), alice, task.id)
    assert (current.status, current.owner_user_id, current.version) == (TaskStatus.AVAILABLE, None, 1)
    assert await event_types(engine, task.id) == ["task_created"]


async def test_an_uncommitted_unit_of_work_writes_nothing(engine: AsyncEngine) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    alice = actor(org)
    task = await new_task(engine, alice)
    uow = SqlUnitOfWorkFactory(engine)()
    async with uow:
        loaded = await uow.tasks.get(org, task.id)
        assert loaded is not None
        uow.record(loaded.take(alice, loaded.updated_at))
        await uow.tasks.update(loaded)
    assert (await tasks.get_task(SqlUnitOfWorkFactory(engine)(), alice, task.id)).version == 1
    assert await event_types(engine, task.id) == ["task_created"]


class Crash(Exception):
    """The request fails after the use case wrote, before the transaction commits."""


def key_of(who: Actor) -> RequestKey:
    return RequestKey(who.tenant_id, who.user_id, str(uuid.uuid4()), "fingerprint")


async def stored_keys(engine: AsyncEngine, key: RequestKey) -> int:
    stmt = select(func.count()).select_from(idempotency_keys).where(idempotency_keys.c.key == key.key)
    async with engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def test_a_first_attempt_that_rolled_back_leaves_nothing_and_its_retry_runs_afresh(
    engine: AsyncEngine,
) -> None:
    who = actor(f"org-{uuid.uuid4().hex[:8]}")
    factory = SqlUnitOfWorkFactory(engine)
    project = await projects.create_project(factory(), projects.CreateProject(who, "P"))
    story = await stories.create_story(factory(), stories.CreateStory(who, project.id, "S"))
    key, runs = key_of(who), []

    async def once(crash: bool) -> tuple[Answer, bool]:
        uow = factory()

        async def respond() -> Answer:
            task = await tasks.create_task(uow, tasks.CreateTask(who, story.id, "T", ["AC1"]))
            runs.append(task.id)
            if crash:
                raise Crash()
            return Answer(201, str(task.id).encode())

        return await answer_once(uow, key, respond)

    with pytest.raises(Crash):
        await once(crash=True)
    in_story = select(func.count()).select_from(task_rows).where(task_rows.c.story_id == story.id)
    async with engine.connect() as conn:
        assert (await conn.execute(in_story)).scalar_one() == 0
    assert await event_types(engine, runs[0]) == [] and await stored_keys(engine, key) == 0

    answer, replayed = await once(crash=False)
    assert (answer.body, replayed) == (str(runs[1]).encode(), False)
    again, replayed = await once(crash=False)
    assert (again, replayed, len(runs)) == (answer, True, 2)
    async with engine.connect() as conn:
        assert (await conn.execute(in_story)).scalar_one() == 1
    assert await event_types(engine, runs[1]) == ["task_created"]


async def test_a_lost_race_inside_the_enclosing_transaction_is_retried_from_a_fresh_read(
    engine: AsyncEngine,
) -> None:
    """The take's first conditional write loses to a rival and is undone (its savepoint); the retry reads
    the rival's change and the domain refuses; the refusal leaves no key behind."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    alice, bob = actor(org), actor(org)
    task = await new_task(engine, alice)
    InterferingUnitOfWork.interfered = False
    uow = InterferingUnitOfWork(SqlUnitOfWorkFactory(engine).engine, bob)
    key = key_of(alice)

    async def respond() -> Answer:
        taken = await tasks.take_task(uow, tasks.TakeTask(alice, task.id))
        return Answer(200, str(taken.version).encode())

    with pytest.raises(Conflict) as caught:
        await answer_once(uow, key, respond)
    assert caught.value.code == "task_not_available" and InterferingUnitOfWork.interfered
    current = await tasks.get_task(SqlUnitOfWorkFactory(engine)(), alice, task.id)
    assert (current.owner_user_id, current.version) == (bob.user_id, 2)
    assert await event_types(engine, task.id) == ["task_created", "ownership_taken"]
    assert await stored_keys(engine, key) == 0
