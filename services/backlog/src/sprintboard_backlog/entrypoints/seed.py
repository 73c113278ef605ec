"""The demo tenant: two users, a project, an active sprint with tasks in every status (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sprintboard_backlog.adapters.engine import create_engine
from sprintboard_backlog.adapters.unit_of_work import SqlUnitOfWorkFactory
from sprintboard_backlog.application import projects, sprints, stories, tasks
from sprintboard_backlog.application.board import sprint_board
from sprintboard_backlog.domain.story import StoryStatus
from sprintboard_backlog.domain.user import Actor, User
from sprintboard_kit.tokens import tenant_id_for, user_id_for

DEMO_ORG_ID = "demo-org"
DEMO_PROJECT_NAME = "Sprintboard demo"


@dataclass(frozen=True, slots=True)
class DemoUser:
    sub: str
    name: str
    email: str


DEMO_USERS = (
    DemoUser("alice", "Alice Anders", "alice@example.com"),
    DemoUser("bob", "Bob Berger", "bob@example.com"),
)

# story title, description, points, then tasks: (title, final status, owner index or None, hours)
_PLAN: list[tuple[str, str, int, list[tuple[str, str, int | None, int | None]]]] = [
    (
        "Live task board",
        "Everyone sees task changes on the board without reloading.",
        5,
        [
            ("Render the board grouped by story", "completed", 0, 6),
            ("Connect the board to the event socket", "inprogress", 0, 8),
            ("Toast other users' changes", "owned", 1, 3),
            ("Reconnect with backoff and resume", "available", None, None),
        ],
    ),
    (
        "Claim and release tasks",
        "Team members take tasks they work on and give them up when blocked.",
        3,
        [
            ("'I'm on it' button", "completed", 1, 2),
            ("'Give up' button", "inprogress", 1, 2),
            ("Roll back refused actions with a toast", "available", None, 4),
        ],
    ),
    (
        "Sprint progress at a glance",
        "The header shows days remaining, counts and a progress bar.",
        2,
        [
            ("Stat cards", "owned", 0, 3),
            ("Progress bar", "available", None, None),
        ],
    ),
]
_STEPS = {"owned": ("take",), "inprogress": ("take", "start"), "completed": ("take", "start", "complete")}


@dataclass(frozen=True, slots=True)
class DemoSeed:
    org_id: str
    tenant_id: str
    users: list[tuple[DemoUser, UUID]]
    project_id: UUID
    sprint_id: UUID
    story_ids: list[UUID]
    task_ids: list[UUID]
    created: bool


def _actors(issuer: str | None) -> list[tuple[DemoUser, Actor]]:
    return [
        (
            u,
            Actor(
                user_id=(uid := user_id_for(issuer, u.sub)),
                tenant_id=tenant_id_for(DEMO_ORG_ID, uid),
                org_id=DEMO_ORG_ID,
            ),
        )
        for u in DEMO_USERS
    ]


async def seed_demo(database_url: str, *, issuer: str | None = None) -> DemoSeed:
    """Create the demo tenant unless its project exists already; either way describe what is there.
    `issuer` must match the tokens' `iss` so the seeded owners are the users who sign in."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        people = _actors(issuer)
        alice = people[0][1]
        existing = [p for p in await projects.list_projects(uow(), alice) if p.name == DEMO_PROJECT_NAME]
        if existing:
            return await _describe(uow, people, existing[0].id)
        for demo_user, actor in people:
            async with uow() as work:
                await work.users.upsert(
                    User(
                        actor.user_id, actor.tenant_id, demo_user.sub, issuer, demo_user.name, demo_user.email
                    )
                )
                await work.commit()
        project_id = await _create(uow, people)
        return replace(await _describe(uow, people, project_id), created=True)
    finally:
        await engine.dispose()


async def _create(uow: SqlUnitOfWorkFactory, people: list[tuple[DemoUser, Actor]]) -> UUID:
    alice = people[0][1]
    project = await projects.create_project(
        uow(), projects.CreateProject(alice, DEMO_PROJECT_NAME, "A board that updates itself.")
    )
    story_ids = []
    for title, description, points, _ in _PLAN:
        story = await stories.create_story(
            uow(), stories.CreateStory(alice, project.id, title, description, ("demo",), points)
        )
        for n in range(3):
            await stories.add_acceptance_criterion(
                uow(),
                stories.AddAcceptanceCriterion(
                    alice, story.id, f"condition {n + 1}", "a user acts", "it works"
                ),
            )
        await stories.change_story_status(
            uow(), stories.ChangeStoryStatus(alice, story.id, StoryStatus.READY)
        )
        story_ids.append(story.id)
    await stories.create_story(
        uow(),
        stories.CreateStory(alice, project.id, "Dark mode", "Easier on the eyes at night.", ("ui",), None),
    )
    now = datetime.now(UTC)
    await sprints.plan_sprint(
        uow(),
        sprints.PlanSprint(
            alice,
            project.id,
            "Sprint 1",
            "Ship the live board",
            story_ids,
            40,
            now - timedelta(days=3),
            now + timedelta(days=11),
        ),
    )
    for story_id, (_, _, _, plan) in zip(story_ids, _PLAN, strict=True):
        for title, status, owner, hours in plan:
            task = await tasks.create_task(
                uow(), tasks.CreateTask(alice, story_id, title, ["AC1", "AC2"], f"{title}.", None)
            )
            if owner is None:
                continue
            actor = people[owner][1]
            for step in _STEPS[status]:
                if step == "take":
                    await tasks.take_task(uow(), tasks.TakeTask(actor, task.id))
                    if hours is not None:
                        await tasks.update_task_estimate(
                            uow(), tasks.UpdateTaskEstimate(actor, task.id, hours)
                        )
                elif step == "start":
                    await tasks.start_work(uow(), tasks.StartWork(actor, task.id))
                else:
                    await tasks.complete_work(uow(), tasks.CompleteWork(actor, task.id))

    return project.id


async def _describe(
    uow: SqlUnitOfWorkFactory, people: list[tuple[DemoUser, Actor]], project_id: UUID
) -> DemoSeed:
    alice = people[0][1]
    sprint = await sprints.active_sprint(uow(), alice, project_id)
    board = await sprint_board(uow(), alice, sprint.sprint.id)
    return DemoSeed(
        org_id=DEMO_ORG_ID,
        tenant_id=alice.tenant_id,
        users=[(u, a.user_id) for u, a in people],
        project_id=project_id,
        sprint_id=sprint.sprint.id,
        story_ids=[s.id for s in sprint.stories],
        task_ids=[bt.task.id for bt in board.tasks],
        created=False,
    )
