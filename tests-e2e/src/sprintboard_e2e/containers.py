"""The container path: the images built from the Dockerfiles, run as `compose.yaml` configures them."""

# PostgreSQL and NATS are the images compose.yaml names, started by testcontainers on a private network
# under the same host names (`postgres`, `nats`); the migration runs to completion first; then the
# notifiers and the backlog, each waited for on `/health/ready` through its mapped port.
from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from sprintboard_e2e import compose
from sprintboard_e2e.environment import Deployment

BACKLOG_PORT = 8000
NOTIFIER_PORT = 8001
NATS_CLIENT_PORT = 4222
START_TIMEOUT_SECONDS = 180


def _variables() -> dict[str, str]:
    """The values an operator exports before `docker compose up`: fresh secrets for this run."""
    return {"POSTGRES_PASSWORD": secrets.token_hex(16), "SPRINTBOARD_JWT_SECRET": secrets.token_urlsafe(32)}


def _logs(container: Any) -> str:
    with contextlib.suppress(Exception):
        stdout, stderr = container.get_logs()
        return str((stdout + stderr).decode(errors="replace"))[-4000:]
    return "(no logs)"


@contextlib.contextmanager
def running_containers(notifiers: int = 2) -> Iterator[Deployment]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.image import DockerImage
    from testcontainers.core.network import Network
    from testcontainers.core.wait_strategies import ExecWaitStrategy, HttpWaitStrategy

    spec = compose.load()
    services: Mapping[str, Any] = spec["services"]
    variables = _variables()
    run = uuid.uuid4().hex[:8]

    def service(name: str, image: str, network: Any) -> Any:
        """A container of a compose service: its image, command and environment, on its host name."""
        container = DockerContainer(image).with_network(network).with_network_aliases(name)
        for key, value in compose.environment(services[name], variables).items():
            container.with_env(key, value)
        args = compose.command(services[name])
        if args:
            container.with_command(args)
        return container

    def ready(port: int) -> Any:
        return HttpWaitStrategy(port, "/health/ready").with_startup_timeout(START_TIMEOUT_SECONDS)

    with contextlib.ExitStack() as stack:
        network = stack.enter_context(Network())
        images = {
            name: stack.enter_context(
                DockerImage(
                    path=compose.REPO_ROOT,
                    dockerfile_path=services[name]["build"]["dockerfile"],
                    tag=f"sprintboard-{name}:e2e-{run}",
                )
            )
            for name in ("backlog", "notifier")
        }
        postgres = service("postgres", services["postgres"]["image"], network).waiting_for(
            ExecWaitStrategy(compose.healthcheck_command(services["postgres"]) or []).with_startup_timeout(60)
        )
        stack.enter_context(postgres)
        nats = service("nats", services["nats"]["image"], network).with_exposed_ports(NATS_CLIENT_PORT)
        nats.with_exposed_ports(8222).waiting_for(
            HttpWaitStrategy(8222, "/healthz?js-enabled-only=true").with_startup_timeout(60)
        )
        stack.enter_context(nats)

        migrate = stack.enter_context(service("migrate", str(images["backlog"]), network))
        if (status := migrate.wait()) != 0:
            raise RuntimeError(f"migration exited with {status}:\n{_logs(migrate)}")

        started = []
        for n in range(notifiers):
            notifier = service("notifier", str(images["notifier"]), network)
            notifier.with_env("NOTIFIER_INSTANCE_ID", f"notifier-{n + 1}")
            notifier.with_exposed_ports(NOTIFIER_PORT).waiting_for(ready(NOTIFIER_PORT))
            started.append(stack.enter_context(notifier))
        backlog = service("backlog", str(images["backlog"]), network).with_exposed_ports(BACKLOG_PORT)
        stack.enter_context(backlog.waiting_for(ready(BACKLOG_PORT)))

        def url(container: Any, port: int) -> str:
            return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}"

        yield Deployment(
            mode="containers",
            backlog_url=url(backlog, BACKLOG_PORT),
            notifier_urls=[url(n, NOTIFIER_PORT) for n in started],
            nats_url=f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(NATS_CLIENT_PORT)}",
            jwt_secret=variables["SPRINTBOARD_JWT_SECRET"],
            logs=lambda: "\n".join(_logs(c) for c in [backlog, *started]),
        )
