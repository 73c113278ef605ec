"""How the end-to-end tests get a running system: containers when a Docker engine answers, else embedded."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sprintboard_kit.tokens import mint_dev_token

Mode = Literal["containers", "embedded"]
MODES: tuple[Mode, ...] = ("containers", "embedded")
MODE_VARIABLE = "SPRINTBOARD_E2E_MODE"
DEMO_ORG_ID = "demo-org"


def docker_available(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers a ping (`DOCKER_HOST`, else the default socket)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
    except Exception:  # no SDK, no socket, bad DOCKER_HOST: all mean "no engine here"
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def select_mode(
    env: Mapping[str, str] | None = None, docker_ping: Callable[[], bool] = docker_available
) -> Mode:
    """`SPRINTBOARD_E2E_MODE` (containers | embedded) when set; otherwise containers if Docker answers."""
    env = os.environ if env is None else env
    forced = env.get(MODE_VARIABLE, "").strip().lower()
    if forced in MODES:
        return forced
    if forced not in ("", "auto"):
        raise ValueError(f"{MODE_VARIABLE}={forced!r}: expected containers, embedded or auto")
    return "containers" if docker_ping() else "embedded"


@dataclass
class Deployment:
    """What a black-box test may know of the system: its URLs and the secret an identity provider holds."""

    mode: Mode
    backlog_url: str
    notifier_urls: list[str]
    nats_url: str
    jwt_secret: str
    logs: Callable[[], str] = field(default=lambda: "")

    def token(self, sub: str, org_id: str | None = DEMO_ORG_ID) -> str:
        """A bearer token for user `sub` of tenant `org_id` (the demo tenant unless told)."""
        return mint_dev_token(
            self.jwt_secret, sub=sub, name=sub.title(), email=f"{sub}@example.com", org_id=org_id
        )

    def socket_url(self, notifier: int = 0) -> str:
        return self.notifier_urls[notifier].replace("http", "ws", 1) + "/api/v1/ws/tasks"


@contextlib.contextmanager
def running_deployment(notifiers: int = 2, mode: Mode | None = None) -> Iterator[Deployment]:
    """The whole system, started once and stopped on exit, by `mode` (default: `select_mode()`)."""
    mode = mode or select_mode()
    if mode == "containers":
        from sprintboard_e2e.containers import running_containers

        with running_containers(notifiers) as deployment:
            yield deployment
        return
    with _embedded(notifiers) as deployment:
        yield deployment


RELAY_POLL_SECONDS = 60


@contextlib.contextmanager
def _embedded(notifiers: int) -> Iterator[Deployment]:
    """PostgreSQL and NATS embedded (or from DATABASE_URL / NATS_URL), the services as processes."""
    from sprintboard_devstack.stack import running_stack

    # The relay as its own process (as `make up` runs it), polling only every RELAY_POLL_SECONDS: an
    # event that reaches a board within the tests' waits got there because a commit woke the relay.
    with running_stack(
        notifiers=notifiers,
        relay_process=True,
        extra_env={"BACKLOG_RELAY_POLL_INTERVAL_SECONDS": str(RELAY_POLL_SECONDS)},
    ) as stack:
        assert stack.backlog is not None and stack.nats_url is not None

        def logs() -> str:
            processes = [stack.backlog, stack.relay, *stack.notifiers]
            return "\n".join(f"--- {p.module}:{p.port}\n{p.tail()}" for p in processes if p is not None)

        yield Deployment(
            mode="embedded",
            backlog_url=stack.backlog.url,
            notifier_urls=[n.url for n in stack.notifiers],
            nats_url=stack.nats_url,
            jwt_secret=stack.jwt_secret,
            logs=logs,
        )
