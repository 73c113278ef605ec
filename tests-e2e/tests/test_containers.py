"""The container path's wiring, checked with stand-ins for testcontainers (no Docker engine needed)."""

from __future__ import annotations

from typing import Any

import pytest

from sprintboard_e2e import compose, containers


class FakeContainer:
    started: list[FakeContainer] = []

    def __init__(self, image: str) -> None:
        self.image, self.env, self.command, self.aliases, self.ports = image, {}, None, [], []
        self.strategy: Any = None
        self.exit_code = 0

    def with_network(self, network: Any) -> FakeContainer:
        return self

    def with_network_aliases(self, *aliases: str) -> FakeContainer:
        self.aliases += aliases
        return self

    def with_env(self, key: str, value: str) -> FakeContainer:
        self.env[key] = value
        return self

    def with_command(self, command: list[str]) -> FakeContainer:
        self.command = command
        return self

    def with_exposed_ports(self, *ports: int) -> FakeContainer:
        self.ports += ports
        return self

    def waiting_for(self, strategy: Any) -> FakeContainer:
        self.strategy = strategy
        return self

    def __enter__(self) -> FakeContainer:
        FakeContainer.started.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def wait(self) -> int:
        return self.exit_code

    def get_container_host_ip(self) -> str:
        return "docker.host"

    def get_exposed_port(self, port: int) -> int:
        return 40000 + FakeContainer.started.index(self) * 10 + port % 10

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"", b""


class FakeImage:
    built: list[FakeImage] = []

    def __init__(self, path: Any, dockerfile_path: str, tag: str) -> None:
        self.path, self.dockerfile, self.tag = path, dockerfile_path, tag

    def __enter__(self) -> FakeImage:
        FakeImage.built.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def __str__(self) -> str:
        return self.tag


class FakeNetwork:
    def __enter__(self) -> FakeNetwork:
        return self

    def __exit__(self, *_: object) -> None:
        pass


class Strategy:
    def __init__(self, *args: Any) -> None:
        self.args = args

    def with_startup_timeout(self, _: float) -> Strategy:
        return self


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    import testcontainers.core.container
    import testcontainers.core.image
    import testcontainers.core.network
    import testcontainers.core.wait_strategies as waits

    FakeContainer.started, FakeImage.built = [], []
    monkeypatch.setattr(testcontainers.core.container, "DockerContainer", FakeContainer)
    monkeypatch.setattr(testcontainers.core.image, "DockerImage", FakeImage)
    monkeypatch.setattr(testcontainers.core.network, "Network", FakeNetwork)
    monkeypatch.setattr(waits, "HttpWaitStrategy", Strategy)
    monkeypatch.setattr(waits, "ExecWaitStrategy", Strategy)


@pytest.mark.usefixtures("fakes")
def test_the_images_and_containers_follow_compose_yaml() -> None:
    services = compose.load()["services"]
    with containers.running_containers(notifiers=2) as deployment:
        assert [(i.dockerfile, i.path) for i in FakeImage.built] == [
            ("services/backlog/Dockerfile", compose.REPO_ROOT),
            ("services/notifier/Dockerfile", compose.REPO_ROOT),
        ]
        postgres, nats, migrate, *notifiers, backlog = FakeContainer.started
        assert (postgres.image, postgres.aliases) == (services["postgres"]["image"], ["postgres"])
        assert (nats.image, nats.command) == (services["nats"]["image"], services["nats"]["command"])
        assert migrate.command == services["migrate"]["command"]
        assert migrate.image == backlog.image == FakeImage.built[0].tag
        assert [n.env["NOTIFIER_INSTANCE_ID"] for n in notifiers] == ["notifier-1", "notifier-2"]
        # One set of secrets, shared as compose shares them.
        assert backlog.env["PGPASSWORD"] == migrate.env["PGPASSWORD"] == postgres.env["POSTGRES_PASSWORD"]
        secret = deployment.jwt_secret
        assert backlog.env["SPRINTBOARD_JWT_SECRET"] == notifiers[1].env["SPRINTBOARD_JWT_SECRET"] == secret
        assert backlog.env["DATABASE_URL"] == "postgresql://sprintboard@postgres:5432/sprintboard"
        assert backlog.strategy.args == (8000, "/health/ready")
        assert notifiers[0].strategy.args == (8001, "/health/ready")
        assert deployment.mode == "containers"
        assert deployment.backlog_url == "http://docker.host:40050"
        assert deployment.notifier_urls == ["http://docker.host:40031", "http://docker.host:40041"]
        assert deployment.socket_url(1) == "ws://docker.host:40041/api/v1/ws/tasks"
        assert deployment.nats_url == "nats://docker.host:40012"


@pytest.mark.usefixtures("fakes")
def test_a_failed_migration_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeContainer, "wait", lambda self: 3)
    with pytest.raises(RuntimeError, match="migration exited with 3"), containers.running_containers(1):
        pass
