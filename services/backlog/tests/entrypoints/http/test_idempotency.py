"""`Idempotency-Key` on every POST: a retry replays the first answer and writes nothing, on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sprintboard_backlog.adapters.tables import idempotency_keys, tasks

KEY = "Idempotency-Key"
WAITING_ON_LOCKS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def post(api: Any, path: str, key: str | None, body: Any = None) -> httpx.Response:
    headers = api.headers | ({KEY: key} if key is not None else {})
    return await api.client.post(f"/api/v1{path}", headers=headers, json=body)


async def twice(api: Any, path: str, body: Any = None) -> tuple[httpx.Response, httpx.Response]:
    key = str(uuid.uuid4())
    return await post(api, path, key, body), await post(api, path, key, body)


async def count(engine: AsyncEngine, statement: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(statement)).scalar_one())


def task_count(story_id: str) -> Any:
    return select(func.count()).select_from(tasks).where(tasks.c.story_id == uuid.UUID(story_id))


def assert_replayed(first: httpx.Response, again: httpx.Response, status: int) -> None:
    assert first.status_code == again.status_code == status, again.text
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers


async def test_retried_creations_answer_the_first_response_and_write_nothing(
    api: Any, engine: AsyncEngine, outbox_rows: Any
) -> None:
    alice = api("alice")
    first, again = await twice(alice, "/projects", {"name": "Retried"})
    assert_replayed(first, again, 201)
    assert [p["name"] for p in await alice.call("GET", "/projects")] == ["Retried"]
    project_id = first.json()["id"]

    first, again = await twice(alice, f"/projects/{project_id}/stories", {"title": "S", "story_points": 3})
    assert_replayed(first, again, 201)
    story_id = first.json()["story_id"]
    assert [s["id"] for s in await alice.call("GET", f"/projects/{project_id}/stories")] == [story_id]

    await alice.call("PATCH", f"/stories/{story_id}", json={"description": "Because"})
    for n in range(3):
        first, again = await twice(
            alice, f"/stories/{story_id}/acceptance-criteria", {"given": f"g{n}", "when": "w", "then": "t"}
        )
        assert_replayed(first, again, 201)
    assert len(await alice.call("GET", f"/stories/{story_id}/acceptance-criteria")) == 3

    await alice.call("PATCH", f"/stories/{story_id}/status", json={"status": "ready"})
    first, again = await twice(
        alice, f"/projects/{project_id}/sprints", {"name": "S", "goal": "G", "stories": [story_id]}
    )
    assert_replayed(first, again, 201)
    assert [s["id"] for s in await alice.call("GET", f"/projects/{project_id}/sprints")] == [
        first.json()["sprint_id"]
    ]

    body = {"title": "T", "acceptance_criteria_refs": ["AC1"]}
    first, again = await twice(alice, f"/stories/{story_id}/tasks", body)
    assert_replayed(first, again, 201)
    task_id = first.json()["task_id"]
    assert await count(engine, task_count(story_id)) == 1
    assert [r["subject"].rsplit(".", 1)[1] for r in await outbox_rows(task_id)] == ["task_created"]


async def test_retried_work_actions_answer_the_first_response_and_publish_once(
    api: Any, outbox_rows: Any
) -> None:
    alice = api("alice")
    *_, task_id = await alice.board()
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    for action, status in (
        ("start", "inprogress"),
        ("pause", "owned"),
        ("start", "inprogress"),
        ("complete", "completed"),
    ):
        first, again = await twice(alice, f"/tasks/{task_id}/work/{action}")
        assert_replayed(first, again, 200)
        assert first.json()["task"]["status"] == status
    task = await alice.call("GET", f"/tasks/{task_id}")
    assert (task["status"], task["version"]) == ("completed", 6)
    assert [r["subject"].rsplit(".", 1)[1] for r in await outbox_rows(task_id)] == [
        "task_created",
        "ownership_taken",
        *["status_changed"] * 4,
    ]


async def test_the_same_key_with_another_request_is_422_and_writes_nothing(
    api: Any, engine: AsyncEngine
) -> None:
    alice = api("alice")
    _, story_id, _, _ = await alice.board()
    key = str(uuid.uuid4())
    created = await post(
        alice, f"/stories/{story_id}/tasks", key, {"title": "A", "acceptance_criteria_refs": ["AC1"]}
    )
    assert created.status_code == 201
    before = await count(engine, task_count(story_id))
    # Key order and spacing are not a different body; another value, path or method is.
    same = await alice.client.post(
        f"/api/v1/stories/{story_id}/tasks",
        headers=alice.headers | {KEY: key, "Content-Type": "application/json"},
        content=b'{ "acceptance_criteria_refs": ["AC1"],  "title": "A" }',
    )
    assert same.status_code == 201 and same.content == created.content
    for path, body in (
        (f"/stories/{story_id}/tasks", {"title": "B", "acceptance_criteria_refs": ["AC1"]}),
        ("/projects", {"name": "A"}),
    ):
        refused = await post(alice, path, key, body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert await count(engine, task_count(story_id)) == before


async def test_keys_belong_to_their_tenant_and_user(
    client: httpx.AsyncClient, tenant: Any, other_tenant: Any, api_on: Any
) -> None:
    key = str(uuid.uuid4())
    body = {"name": "Same key, same body"}
    answers = [
        await post(api_on(client, who, sub), "/projects", key, body)
        for who, sub in ((tenant, "alice"), (other_tenant, "alice"), (tenant, "bob"))
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert all("Idempotent-Replayed" not in a.headers for a in answers)
    assert [p["id"] for p in await api_on(client, other_tenant, "alice").call("GET", "/projects")] == [
        answers[1].json()["id"]
    ]
    again = await post(api_on(client, tenant, "alice"), "/projects", key, body)
    assert again.content == answers[0].content


async def test_an_expired_key_runs_afresh_and_the_sweep_deletes_it(
    api: Any, engine: AsyncEngine, context: Any
) -> None:
    from sprintboard_backlog.application.idempotency import forget_expired

    alice = api("alice")
    key = str(uuid.uuid4())
    first = await post(alice, "/projects", key, {"name": "Old"})
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE key = :k"),
            {"k": key},
        )
    later = await post(alice, "/projects", key, {"name": "Old"})
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert len(await alice.call("GET", "/projects")) == 2
    stale = str(uuid.uuid4())
    await post(alice, "/projects", stale, {"name": "Stale"})
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE key = :k"),
            {"k": stale},
        )
    assert await forget_expired(context.uow_factory) >= 1
    kept = select(idempotency_keys.c.key).where(idempotency_keys.c.key.in_([key, stale]))
    async with engine.connect() as conn:
        assert [k for (k,) in await conn.execute(kept)] == [key]


@asynccontextmanager
async def story_locked(engine: AsyncEngine, story_id: str) -> AsyncIterator[AsyncConnection]:
    """Holds the story row FOR UPDATE: a task insert (its foreign key check) waits until the block ends."""
    async with engine.connect() as conn:
        await conn.execute(text("BEGIN"))
        await conn.execute(text("SELECT 1 FROM stories WHERE id = :id FOR UPDATE"), {"id": story_id})
        try:
            yield conn
        finally:
            await conn.execute(text("COMMIT"))


async def waiting_on_locks(engine: AsyncEngine, expected: int) -> None:
    """Until `expected` requests wait on a lock (a generous bound: this waits for an event, not a speed)."""
    for _ in range(3000):
        if await count(engine, text(WAITING_ON_LOCKS)) >= expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw {expected} requests waiting on a lock")


async def test_concurrent_twins_make_one_write_and_get_one_answer(
    api: Any, engine: AsyncEngine, outbox_rows: Any
) -> None:
    alice = api("alice")
    _, story_id, _, _ = await alice.board()
    before = await count(engine, task_count(story_id))
    key, body = str(uuid.uuid4()), {"title": "Twin", "acceptance_criteria_refs": ["AC1"]}
    async with story_locked(engine, story_id):
        first = asyncio.create_task(post(alice, f"/stories/{story_id}/tasks", key, body))
        await waiting_on_locks(engine, 1)  # the first holds the key and waits on the story
        twin = asyncio.create_task(post(alice, f"/stories/{story_id}/tasks", key, body))
        await waiting_on_locks(engine, 2)  # the twin waits on the first's key
    answers = await asyncio.gather(first, twin)
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].content == answers[1].content
    assert await count(engine, task_count(story_id)) == before + 1
    assert len(await outbox_rows(answers[0].json()["task_id"])) == 1


async def test_a_twin_that_waits_past_the_limit_is_409_and_a_later_retry_replays(
    open_client: Callable[..., Any], tenant: Any, api_on: Any, engine: AsyncEngine
) -> None:
    async with open_client(idempotency_wait_seconds=0.2) as (client, _):
        alice = api_on(client, tenant, "alice")
        _, story_id, _, _ = await alice.board()
        key, body = str(uuid.uuid4()), {"title": "Slow", "acceptance_criteria_refs": ["AC1"]}
        async with story_locked(engine, story_id):
            first = asyncio.create_task(post(alice, f"/stories/{story_id}/tasks", key, body))
            await waiting_on_locks(engine, 1)
            busy = await post(alice, f"/stories/{story_id}/tasks", key, body)
            assert busy.status_code == 409, busy.text
            assert busy.json()["error"]["code"] == "idempotency_key_in_progress"
        answer = await first
        assert answer.status_code == 201
        retry = await post(alice, f"/stories/{story_id}/tasks", key, body)
        assert_replayed(answer, retry, 201)


async def test_a_refusal_is_not_remembered_so_its_retry_meets_the_current_state(
    api: Any, outbox_rows: Any
) -> None:
    alice = api("alice")
    *_, task_id = await alice.board()
    key = str(uuid.uuid4())
    refused = await post(alice, f"/tasks/{task_id}/work/start", key)
    assert refused.status_code == 409  # not owned yet
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    started = await post(alice, f"/tasks/{task_id}/work/start", key)
    assert started.status_code == 200 and "Idempotent-Replayed" not in started.headers
    assert_replayed(started, await post(alice, f"/tasks/{task_id}/work/start", key), 200)
    assert len(await outbox_rows(task_id)) == 3  # created, taken, started


async def test_the_key_header_is_validated(api: Any, engine: AsyncEngine) -> None:
    alice = api("alice")
    before = await count(engine, select(func.count()).select_from(idempotency_keys))
    for bad in ("k" * 256, "two words", "", "ключ".encode()):
        refused = await alice.client.post(
            "/api/v1/projects",
            headers=alice.headers | {KEY: bad},
            json={"name": "P"},
        )
        assert refused.status_code == 422, (bad, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "validation_failed" and error["details"][0]["loc"] == ["header", KEY]
    assert await count(engine, select(func.count()).select_from(idempotency_keys)) == before
    assert (await post(alice, "/projects", "k" * 255, {"name": "P"})).status_code == 201
    assert (await post(alice, "/projects", "!~" + str(uuid.uuid4()), {"name": "P"})).status_code == 201


async def test_every_post_documents_the_header(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    posts = {path: ops["post"] for path, ops in document["paths"].items() if "post" in ops}
    assert len(posts) == 8
    for path, operation in posts.items():
        headers = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == KEY]
        assert len(headers) == 1, path
        schema = headers[0]["schema"]
        assert (schema["type"], schema["minLength"], schema["maxLength"]) == ("string", 1, 255)
        assert schema["pattern"] == "^[!-~]+$"
        assert not headers[0].get("required")
