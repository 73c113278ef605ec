"""The container path: the images built from the Dockerfiles, run as `compose.yaml` configures them."""

# PostgreSQL and NATS are the images compose.yaml names (its image variables read from the environment,
# so stand-ins apply as they do to compose), started by testcontainers on a private network under the
# same host names (`postgres`, `nats`); the migration runs to completion first; then the notifiers and
# the backlog, each waited for on `/health/ready`. Tests reach them only through ports published on
# 127.0.0.1.
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from sprintboard_e2e import compose
from sprintboard_e2e.environment import Deployment

BACKLOG_PORT = 8000
NOTIFIER_PORT = 8001
NATS_CLIENT_PORT = 4222
NATS_MONITOR_PORT = 8222
START_TIMEOUT_SECONDS = 180
LOOPBACK = "127.0.0.1"
# The tag the test images are built under: a fixed one, so the engine's layer cache makes a rebuild of
# unchanged code take seconds.
TEST_TAG = "e2e"


def _variables() -> dict[str, str]:
    """The values an operator exports before `docker compose up`: fresh secrets for this run."""
    return {"POSTGRES_PASSWORD": secrets.token_hex(16), "SPRINTBOARD_JWT_SECRET": secrets.token_urlsafe(32)}


def _logs(container: Any) -> str:
    with contextlib.suppress(Exception):
        stdout, stderr = container.get_logs()
        return str((stdout + stderr).decode(errors="replace"))[-4000:]
    return "(no logs)"


def image_of(service: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str:
    """A service's image as compose resolves it: `${SPRINTBOARD_..._IMAGE:-upstream}` from the environment."""
    return compose.interpolate(str(service["image"]), os.environ if env is None else env)


def build_args(service: Mapping[str, Any], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's build arguments (the base images), interpolated as compose does."""
    args = service.get("build", {}).get("args") or {}
    values = os.environ if env is None else env
    return {str(name): compose.interpolate(str(value), values) for name, value in args.items()}


def publish(container: Any, *ports: int) -> Any:
    """Publish container ports on 127.0.0.1 only (on a free host port each), never on every interface."""
    for port in ports:
        container.ports[str(port)] = (LOOPBACK, None)
    return container


def host_url(container: Any, port: int, scheme: str = "http") -> str:
    return f"{scheme}://{LOOPBACK}:{container.get_exposed_port(port)}"


@contextlib.contextmanager
def running_containers(notifiers: int = 2) -> Iterator[Deployment]:
    from testcontainers.core.config import ConnectionMode, testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.image import DockerImage
    from testcontainers.core.network import Network
    from testcontainers.core.wait_strategies import ExecWaitStrategy, HttpWaitStrategy

    # Ryuk (the reaper) is an image from a registry; the ExitStack below removes what it started.
    testcontainers_config.ryuk_disabled = True
    # Inside a container testcontainers would reach the engine's gateway address; we use only loopback.
    testcontainers_config.connection_mode_override = ConnectionMode.docker_host
    testcontainers_config.tc_host_override = LOOPBACK
    spec = compose.load()
    services: Mapping[str, Any] = spec["services"]
    variables = _variables()

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
        images = {
            name: stack.enter_context(
                DockerImage(
                    path=compose.REPO_ROOT,
                    dockerfile_path=services[name]["build"]["dockerfile"],
                    tag=f"sprintboard/{name}:{TEST_TAG}",
                    clean_up=False,
                    buildargs=build_args(services[name]),
                )
            )
            for name in ("backlog", "notifier")
        }
        network = stack.enter_context(Network())
        postgres = service("postgres", image_of(services["postgres"]), network).waiting_for(
            ExecWaitStrategy(compose.healthcheck_command(services["postgres"]) or []).with_startup_timeout(60)
        )
        stack.enter_context(postgres)
        nats = publish(
            service("nats", image_of(services["nats"]), network), NATS_CLIENT_PORT, NATS_MONITOR_PORT
        )
        nats.waiting_for(
            HttpWaitStrategy(NATS_MONITOR_PORT, "/healthz?js-enabled-only=true").with_startup_timeout(60)
        )
        stack.enter_context(nats)

        migrate = stack.enter_context(service("migrate", str(images["backlog"]), network))
        if (status := migrate.wait()) != 0:
            raise RuntimeError(f"migration exited with {status}:\n{_logs(migrate)}")

        started = []
        for n in range(notifiers):
            notifier = publish(service("notifier", str(images["notifier"]), network), NOTIFIER_PORT)
            notifier.with_env("NOTIFIER_INSTANCE_ID", f"notifier-{n + 1}")
            started.append(stack.enter_context(notifier.waiting_for(ready(NOTIFIER_PORT))))
        backlog = publish(service("backlog", str(images["backlog"]), network), BACKLOG_PORT)
        stack.enter_context(backlog.waiting_for(ready(BACKLOG_PORT)))

        yield Deployment(
            mode="containers",
            backlog_url=host_url(backlog, BACKLOG_PORT),
            notifier_urls=[host_url(n, NOTIFIER_PORT) for n in started],
            nats_url=host_url(nats, NATS_CLIENT_PORT, scheme="nats"),
            jwt_secret=variables["SPRINTBOARD_JWT_SECRET"],
            logs=lambda: "\n".join(_logs(c) for c in [backlog, *started]),
        )
