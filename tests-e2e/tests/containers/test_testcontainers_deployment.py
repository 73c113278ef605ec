"""The container path itself (`SPRINTBOARD_E2E_MODE=containers`): what it starts, publishes, removes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sprintboard_e2e import compose, containers
from sprintboard_e2e.environment import docker_available

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1200)]
SERVICES = compose.load()["services"]


@pytest.fixture
def engine() -> Iterator[Any]:
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


def session_containers(engine: Any) -> list[Any]:
    """The containers this test process started (testcontainers labels them with its session)."""
    from testcontainers.core.labels import SESSION_ID

    return list(
        engine.containers.list(all=True, filters={"label": f"org.testcontainers.session-id={SESSION_ID}"})
    )


def started_since(engine: Any, before: set[str]) -> list[Any]:
    """This process's containers not in `before` (the system suites' deployment may be running too)."""
    return [c for c in session_containers(engine) if c.id not in before]


def test_an_answering_engine_is_available() -> None:
    assert docker_available() is True


def test_the_containers_follow_compose_yaml_and_publish_on_loopback_only(engine: Any) -> None:
    before = {c.id for c in session_containers(engine)}
    with containers.running_containers(notifiers=2) as deployment:
        mine = started_since(engine, before)
        running = {c.attrs["Config"]["Image"]: c for c in mine if c.status == "running"}
        by_service = {
            name: [c for image, c in running.items() if image == wanted]
            for name, wanted in (
                ("postgres", containers.image_of(SERVICES["postgres"])),
                ("nats", containers.image_of(SERVICES["nats"])),
            )
        }
        assert all(len(found) == 1 for found in by_service.values()), by_service
        notifiers = [
            c for c in mine if c.attrs["Config"]["Image"] == f"sprintboard/notifier:{containers.TEST_TAG}"
        ]
        backlogs = [
            c
            for c in mine
            if c.attrs["Config"]["Image"] == f"sprintboard/backlog:{containers.TEST_TAG}"
            and c.status == "running"
        ]
        assert (len(notifiers), len(backlogs)) == (2, 1)
        for container in mine:
            for bindings in (container.attrs["HostConfig"]["PortBindings"] or {}).values():
                assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}, container.name

        env = dict(item.split("=", 1) for item in backlogs[0].attrs["Config"]["Env"])
        postgres_env = dict(item.split("=", 1) for item in by_service["postgres"][0].attrs["Config"]["Env"])
        assert env["PGPASSWORD"] == postgres_env["POSTGRES_PASSWORD"]
        assert env["SPRINTBOARD_JWT_SECRET"] == deployment.jwt_secret
        assert env["DATABASE_URL"] == "postgresql://sprintboard@postgres:5432/sprintboard"
        # The migration ran to completion before the services started.
        migrated = [c for c in mine if c.attrs["Config"]["Cmd"] == SERVICES["migrate"]["command"]]
        assert [c.attrs["State"]["ExitCode"] for c in migrated] == [0]

        for url in [deployment.backlog_url, *deployment.notifier_urls]:
            assert url.startswith("http://127.0.0.1:")
            assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
        assert deployment.nats_url.startswith("nats://127.0.0.1:")
    assert started_since(engine, before) == [], "every container is removed on exit"


def test_a_failed_migration_stops_the_start_and_leaves_nothing(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {c.id for c in session_containers(engine)}
    failing = compose.load()
    failing["services"]["migrate"]["command"] = ["python", "-c", "raise SystemExit(3)"]
    monkeypatch.setattr(compose, "load", lambda: failing)
    with pytest.raises(RuntimeError, match="migration exited with 3"), containers.running_containers(1):
        pass
    assert started_since(engine, before) == []
