"""Authentication, the error envelope for every status, request ids, users, and the dev-auth endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from sprintboard_kit.tokens import mint_dev_token, user_id_for

ENVELOPE_KEYS = {"code", "message", "request_id", "timestamp"}


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert ENVELOPE_KEYS <= set(error) <= ENVELOPE_KEYS | {"details"}
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code
    return dict(error)


async def test_401_without_token_with_bad_signature_or_expired(client: Any, tenant: Any) -> None:
    error = assert_envelope(await client.get("/api/v1/projects"), 401, "unauthorized")
    assert error["details"]["reason"] == "missing_token"
    forged = mint_dev_token("not-the-secret-" + "y" * 40, "eve", "Eve", None, tenant.org_id)
    response = await client.get("/api/v1/projects", headers={"Authorization": f"Bearer {forged}"})
    assert assert_envelope(response, 401)["details"]["reason"] == "bad_signature"
    assert response.headers["www-authenticate"] == "Bearer"
    expired = {"Authorization": f"Bearer {tenant.token('alice', ttl_seconds=-60)}"}
    assert (
        assert_envelope(await client.get("/api/v1/projects", headers=expired), 401)["details"]["reason"]
        == "expired"
    )
    garbage = {"Authorization": "Bearer abc.def"}
    assert (
        assert_envelope(await client.get("/api/v1/projects", headers=garbage), 401)["details"]["reason"]
        == "malformed"
    )
    basic = {"Authorization": "Basic Zm9vOmJhcg=="}
    assert_envelope(await client.get("/api/v1/projects", headers=basic), 401)


async def test_403_404_409_422_and_unknown_route_use_the_envelope(api: Any, client: Any, tenant: Any) -> None:
    alice, bob = api("alice"), api("bob")
    *_, task_id = await alice.board()
    await alice.call("PUT", f"/tasks/{task_id}/ownership")
    headers = tenant.as_("bob")
    assert_envelope(
        await client.delete(f"/api/v1/tasks/{task_id}/ownership", headers=headers), 403, "not_task_owner"
    )
    assert_envelope(
        await client.put(f"/api/v1/tasks/{task_id}/ownership", headers=headers), 409, "task_not_available"
    )
    assert_envelope(await client.get(f"/api/v1/tasks/{uuid.uuid4()}", headers=headers), 404, "task_not_found")
    error = assert_envelope(await client.get("/api/v1/tasks/xyz", headers=headers), 422, "validation_failed")
    assert error["details"][0]["loc"] == ["path", "task_id"]
    assert_envelope(await client.get("/api/v1/nowhere", headers=headers), 404, "not_found")
    assert_envelope(await client.post("/health/live"), 405, "method_not_allowed")
    del bob


async def test_request_id_is_echoed_or_generated(client: Any, tenant: Any) -> None:
    response = await client.get(
        "/api/v1/projects", headers={**tenant.as_("alice"), "X-Request-ID": "trace-123"}
    )
    assert response.headers["x-request-id"] == "trace-123"
    generated = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert (
        generated.headers["x-request-id"] != "bad id with spaces"
        and len(generated.headers["x-request-id"]) == 32
    )


async def test_users_are_provisioned_and_visible_within_the_tenant(
    client: Any, tenant: Any, other_tenant: Any
) -> None:
    me = await client.get("/api/v1/users/me", headers=tenant.as_("alice"))
    assert me.status_code == 200
    body = me.json()
    assert body["id"] == str(tenant.user_id("alice")) and body["name"] == "Alice"
    assert body["organization_id"] == tenant.org_id and body["tenant_id"] == tenant.org_id
    seen = await client.get(f"/api/v1/users/{body['id']}", headers=tenant.as_("bob"))
    assert seen.json() == {"id": body["id"], "name": "Alice", "email": "alice@example.com"}
    hidden = await client.get(f"/api/v1/users/{body['id']}", headers=other_tenant.as_("eve"))
    assert_envelope(hidden, 404, "user_not_found")


async def test_dev_auth_endpoints_exist_only_when_enabled(client: Any, open_client: Any) -> None:
    assert_envelope(await client.post("/api/v1/auth/dev-token", json={"sub": "x"}), 404)
    assert_envelope(await client.get("/api/v1/auth/dev-users"), 404)
    async with open_client(dev_auth=True, jwt_secret=None) as (dev, _):
        users = (await dev.get("/api/v1/auth/dev-users")).json()
        assert [u["sub"] for u in users] == ["alice", "bob"]
        assert users[0]["user_id"] == str(user_id_for(None, "alice")) and users[0]["org_id"] == "demo-org"
        minted = await dev.post(
            "/api/v1/auth/dev-token", json={"sub": "alice", "name": "Alice", "org_id": "demo-org"}
        )
        assert minted.status_code == 200 and set(minted.json()) == {"token"}
        me = await dev.get("/api/v1/users/me", headers={"Authorization": f"Bearer {minted.json()['token']}"})
        assert me.json()["tenant_id"] == "demo-org" and me.json()["id"] == users[0]["user_id"]
        assert (await dev.post("/api/v1/auth/dev-token", json={})).status_code == 422


async def test_input_the_database_cannot_store_is_422_not_500(client: Any, tenant: Any) -> None:
    """Found by fuzzing: a NUL character reached PostgreSQL (500); a body that is not JSON was a 400."""
    headers = tenant.as_("alice")
    for name in ("nul\x00inside", "   "):
        response = await client.post("/api/v1/projects", json={"name": name}, headers=headers)
        assert_envelope(response, 422, "validation_failed")
    not_json = await client.post(
        "/api/v1/projects",
        content=b"\xff\xfe{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_envelope(not_json, 422, "validation_failed")


async def test_sprint_values_out_of_the_database_or_calendar_range_are_422(
    api: Any, client: Any, tenant: Any
) -> None:
    """Found by fuzzing: a capacity beyond a PostgreSQL integer and a naive start time were 500s."""
    project_id = await api("alice").project()
    path, headers = f"/api/v1/projects/{project_id}/sprints", tenant.as_("alice")
    for extra in (
        {"capacity_points": 2**31},
        {"start_date": "2026-03-02T09:00:00"},
        {"start_date": "9999-12-30T00:00:00Z"},
    ):
        response = await client.post(path, json={"name": "S", "goal": "G", **extra}, headers=headers)
        assert_envelope(response, 422, "validation_failed")
