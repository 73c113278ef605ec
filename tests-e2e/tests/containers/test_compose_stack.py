"""compose.yaml as an operator runs it: the secrets, the gateway's one port, scaling, a killed replica."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest

from sprintboard_devstack.servers import free_port
from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.compose import COMPOSE_FILE, OVERRIDE_FILE, load
from sprintboard_e2e.compose_project import ComposeProject, docker
from sprintboard_e2e.environment import DEMO_ORG_ID
from sprintboard_e2e.following import Follower, following
from sprintboard_e2e.sockets import BoardSocket
from sprintboard_kit.tokens import mint_dev_token

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1200)]
FOLLOWERS = 6
HINTED = 8
OVERRIDE = load(OVERRIDE_FILE)


def gateway_variables(port: int) -> dict[str, str]:
    """The secrets, and the gateway on a free port of 127.0.0.1 (the only address tests reach)."""
    origin = f"http://127.0.0.1:{port}"
    return {
        "SPRINTBOARD_JWT_SECRET": secrets.token_urlsafe(32),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "SPRINTBOARD_BIND_ADDRESS": "127.0.0.1",
        "SPRINTBOARD_PORT": str(port),
        "SPRINTBOARD_PUBLIC_ORIGIN": origin,
        "SPRINTBOARD_PUBLIC_WS_URL": f"ws://127.0.0.1:{port}/api/v1/ws/tasks",
        "SPRINTBOARD_TAG": "e2e",
    }


def gateway_url(project: ComposeProject) -> str:
    return f"http://127.0.0.1:{project.variables['SPRINTBOARD_PORT']}"


def left_behind(project: ComposeProject) -> list[str]:
    """Containers and volumes of the project the engine still has."""
    label = f"label=com.docker.compose.project={project.name}"
    return (
        docker("ps", "--all", "--quiet", "--filter", label) + docker("volume", "ls", "-q", "--filter", label)
    ).split()


@pytest.fixture
def production() -> Iterator[ComposeProject]:
    port = free_port()
    project = ComposeProject([COMPOSE_FILE], gateway_variables(port) | {"SPRINTBOARD_NOTIFIER_REPLICAS": "2"})
    try:
        yield project
    finally:
        if left_behind(project):
            project.down()


def sockets_on(container: str) -> int:
    """How many sockets a notifier replica holds, asked inside its container (its sockets gauge)."""
    probe = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8001/metrics').read().decode())"
    exposition = docker("exec", container, "python", "-c", probe)
    (value,) = (
        line.split()[1] for line in exposition.splitlines() if line.startswith("notifier_sockets_connected ")
    )
    return int(float(value))


async def test_the_production_stack_serves_through_one_port_and_loses_no_event_to_a_killed_replica(
    production: ComposeProject,
) -> None:
    production.up()
    url = gateway_url(production)
    socket_url = url.replace("http", "ws", 1) + "/api/v1/ws/tasks"
    assert len(production.containers("notifier")) == 2
    assert len(production.containers("backlog")) == 1

    async with httpx.AsyncClient(base_url=url, timeout=10, follow_redirects=True) as anonymous:
        page = await anonymous.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert (await anonymous.get("/api/v1/users/me")).status_code == 401
        assert (await anonymous.post("/api/v1/auth/dev-token", json={"sub": "x"})).status_code == 404

    secret = production.variables["SPRINTBOARD_JWT_SECRET"]
    token = mint_dev_token(secret, sub="alice", name="Alice", email="alice@example.com", org_id=DEMO_ORG_ID)
    async with BacklogApi(url, token) as alice:
        assert (await alice.me())["email"] == "alice@example.com"
        project_id = await alice.create_project()
        story_id = await alice.create_ready_story(project_id, "Through the gateway")
        board = await BoardSocket.open(socket_url, token, {"project_id": project_id})
        try:
            task = await alice.create_task(story_id, "Taken through the gateway")
            await alice.take(task)
            events = await board.wait_for_events(2, project_id=project_id)
            assert [(e["type"], e["task_id"]) for e in events] == [
                ("task_created", task),
                ("ownership_taken", task),
            ]
        finally:
            await board.close()

        # The routing hint (spec §4): the gateway hashes `?tenant=`, so the sockets that carry one value
        # share a replica, whichever it is, counted by the replicas' own gauges. Only opened sockets between
        # two counts, so each difference is exactly what the hint's sockets added.
        hinted: list[BoardSocket] = []
        try:
            held = {replica: sockets_on(replica) for replica in production.containers("notifier")}
            for hint in (DEMO_ORG_ID, "another-tenant"):
                url_with_hint = f"{socket_url}?tenant={hint}"
                hinted += [await BoardSocket.open(url_with_hint, token) for _ in range(HINTED)]
                now = {replica: sockets_on(replica) for replica in held}
                added = sorted(now[replica] - held[replica] for replica in held)
                assert added == [0, HINTED], (hint, held, now)
                held = now
        finally:
            for socket in hinted:
                await socket.close()

        production.up("--scale", "notifier=3", "--no-recreate")
        replicas = production.containers("notifier")
        assert len(replicas) == 3
        followers = [
            Follower(f"follower-{n}", [socket_url], token, DEMO_ORG_ID, project_id=project_id)
            for n in range(FOLLOWERS)
        ]
        async with following(followers):
            expected: list[tuple[str, str]] = []
            for n in range(2):
                expected += [("task_created", await alice.create_task(story_id, f"Before the kill {n}"))]
            await asyncio.gather(*(f.wait_for_events(len(expected)) for f in followers))

            held = {replica: sockets_on(replica) for replica in replicas}
            victim = max(held, key=held.__getitem__)
            assert held[victim] > 0, held
            docker("kill", victim)
            # Events while the victim's clients are reconnecting, and after: the resume brings them all.
            for n in range(2):
                created = await alice.create_task(story_id, f"After the kill {n}")
                await alice.take(created)
                expected += [("task_created", created), ("ownership_taken", created)]
            await alice.release(expected[-1][1])
            expected += [("ownership_released", expected[-1][1])]

            await asyncio.gather(*(f.wait_for_events(len(expected)) for f in followers))
            for follower in followers:
                assert follower.changes() == expected
                assert (follower.duplicates, follower.foreign, follower.resyncs) == ([], [], [])
            reopened = sum(f.sessions - 1 for f in followers)
            assert reopened >= held[victim], f"the {held[victim]} sockets on the killed replica resumed"

    production.down()
    assert left_behind(production) == []


@pytest.fixture
def local_servers_on_default_ports() -> Iterator[None]:
    """5432 and 4222 taken, as on a machine running PostgreSQL and NATS: held here when nothing holds them."""
    import socket

    held = []
    for port in (5432, 4222):
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen()
            held.append(listener)
        except OSError:  # taken already
            listener.close()
    try:
        yield
    finally:
        for listener in held:
            listener.close()


@pytest.fixture
def development(local_servers_on_default_ports: None) -> Iterator[ComposeProject]:
    """compose.yaml with compose.override.yaml; PostgreSQL and NATS on the override's default host ports."""
    ports = {"SPRINTBOARD_DEV_BACKLOG_PORT": free_port(), "SPRINTBOARD_DEV_NOTIFIER_PORT": free_port()}
    variables = gateway_variables(free_port()) | {name: str(port) for name, port in ports.items()}
    project = ComposeProject([COMPOSE_FILE, OVERRIDE_FILE], variables)
    try:
        yield project
    finally:
        if left_behind(project):
            project.down()


def dev_port(project: ComposeProject, name: str) -> int:
    """A port the override publishes: the variable's value, else the override's default."""
    given = project.variables.get(f"SPRINTBOARD_DEV_{name}_PORT")
    if given:
        return int(given)
    for ports in (OVERRIDE["services"][s].get("ports", []) for s in OVERRIDE["services"]):
        for mapping in ports:
            if f"SPRINTBOARD_DEV_{name}_PORT:-" in mapping:
                return int(mapping.split(":-")[1].split("}")[0])
    raise AssertionError(f"compose.override.yaml publishes no {name} port")


async def test_the_development_stack_runs_beside_a_local_postgresql_and_nats(
    development: ComposeProject,
) -> None:
    import asyncpg
    import nats

    development.up()
    url = gateway_url(development)
    backlog = f"http://127.0.0.1:{dev_port(development, 'BACKLOG')}"
    notifier = f"http://127.0.0.1:{dev_port(development, 'NOTIFIER')}"
    async with httpx.AsyncClient(timeout=10) as http:
        users = (await http.get(f"{url}/api/v1/auth/dev-users")).json()
        assert users, "the demo tenant is seeded"
        signed_in = await http.post(f"{url}/api/v1/auth/dev-token", json={"sub": users[0]["sub"]})
        assert signed_in.status_code == 200
        token = signed_in.json()["token"]
        assert (await http.get(f"{backlog}/health/ready")).status_code == 200
        monitor = await http.get(f"http://127.0.0.1:{dev_port(development, 'NATS_MONITOR')}/healthz")
        assert monitor.status_code == 200

    database = await asyncpg.connect(
        host="127.0.0.1",
        port=dev_port(development, "POSTGRES"),
        user="sprintboard",
        password=development.variables["POSTGRES_PASSWORD"],
        database="sprintboard",
    )
    try:
        assert await database.fetchval("SELECT count(*) FROM tasks") > 0, "the demo tenant's tasks"
    finally:
        await database.close()
    client = await nats.connect(f"nats://127.0.0.1:{dev_port(development, 'NATS')}", connect_timeout=5)
    await client.close()

    async with BacklogApi(url, token) as user:
        project_id = await user.create_project()
        story_id = await user.create_ready_story(project_id, "Developed locally")
        sockets = [
            await BoardSocket.open(
                f"{base.replace('http', 'ws', 1)}/api/v1/ws/tasks", token, {"project_id": project_id}
            )
            for base in (url, notifier)
        ]
        try:
            task = await user.create_task(story_id, "Taken in development")
            await user.take(task)
            for board in sockets:
                events = await board.wait_for_events(2, project_id=project_id)
                assert [e["type"] for e in events] == ["task_created", "ownership_taken"]
        finally:
            for board in sockets:
                await board.close()
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{notifier}/metrics")).text
    # Only the production socket path (ws_server.TaskSocketProtocol) counts its kernel writes.
    writes = [line for line in metrics.splitlines() if line.startswith("notifier_socket_writes_total ")]
    assert writes and float(writes[0].split()[1]) > 0, writes

    development.down()
    assert left_behind(development) == []
