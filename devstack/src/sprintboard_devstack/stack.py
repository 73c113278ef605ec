"""The whole stack as real processes: servers, backlog and notifiers, each started and stopped alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sprintboard_backlog.entrypoints.seed import DemoSeed

from sprintboard_devstack.databases import create_database, drop_database
from sprintboard_devstack.servers import EmbeddedNats, EmbeddedPostgres, free_port


@dataclass
class ServiceProcess:
    """One service (`python -m <module>`) on its own port; start/stop/kill keep the port and settings."""

    module: str
    host: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    health_path: str = "/health/live"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}:\n{self.tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}{self.health_path}", timeout=1) as r,
            ):
                if r.status == 200:
                    return self
            time.sleep(0.1)
        self.stop()  # never ready: not counted as started, so nothing else would stop it
        raise RuntimeError(f"{self.module} not answering {self.health_path} in {timeout}s:\n{self.tail()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> None:
        """SIGTERM is a clean stop, SIGKILL a crash."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Stack:
    """PostgreSQL + NATS (given by URL or embedded) + a backlog + notifiers, for tests and `make up`."""

    host: str = "127.0.0.1"
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    database_url: str | None = None
    nats_url: str | None = None
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    backlog: ServiceProcess | None = None
    notifiers: list[ServiceProcess] = field(default_factory=list)
    # The relay as its own process (the API only wakes it by NOTIFY; docs/operations.md), not a thread of
    # the backlog's; under write load it then has a GIL of its own.
    relay_process: bool = False
    relay: ServiceProcess | None = None
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sprintboard-stack-")))
    extra_env: dict[str, str] = field(default_factory=dict)
    isolate_database: bool = False
    durable_database: bool = False  # an embedded PostgreSQL with fsync, synchronous_commit, full_page_writes
    seed: DemoSeed | None = None
    _created_database: str | None = None

    def start_servers(self) -> None:
        """Embedded servers for what no URL was given; a throwaway database on a given server if asked."""
        if self.database_url is not None and self.isolate_database:
            self.database_url = self._created_database = asyncio.run(create_database(self.database_url))
        if self.database_url is None:
            self.postgres = EmbeddedPostgres(durable=self.durable_database).start()
            self.database_url = self.postgres.url
        if self.nats_url is None:
            self.nats = EmbeddedNats().start()
            self.nats_url = self.nats.url

    def base_env(self) -> dict[str, str]:
        assert self.database_url and self.nats_url
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "NATS_URL": self.nats_url,
                "SPRINTBOARD_JWT_SECRET": self.jwt_secret,
                "SPRINTBOARD_DEV_AUTH": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def migrate_and_seed(self) -> DemoSeed:
        """Apply the migrations and seed the demo tenant (idempotent); returns what was seeded."""
        from sprintboard_backlog.adapters.migrations import upgrade
        from sprintboard_backlog.entrypoints.seed import seed_demo

        url = self.database_url
        assert url

        async def migrate_and_seed() -> DemoSeed:
            await upgrade(url)
            return await seed_demo(url)

        self.seed = asyncio.run(migrate_and_seed())
        return self.seed

    def token(self, sub: str = "alice") -> str:
        """A dev token for a seeded user (signed with this stack's secret)."""
        from sprintboard_kit.tokens import mint_dev_token

        assert self.seed is not None
        user = next(u for u, _ in self.seed.users if u.sub == sub)
        return mint_dev_token(
            self.jwt_secret, sub=user.sub, name=user.name, email=user.email, org_id=self.seed.org_id
        )

    def add_backlog(self, port: int | None = None) -> ServiceProcess:
        port = port or free_port()
        env = self.base_env() | {"BACKLOG_HOST": self.host, "BACKLOG_PORT": str(port)}
        if self.notifiers:
            env["BACKLOG_NOTIFIER_PUBLIC_URL"] = (
                env.get("BACKLOG_NOTIFIER_PUBLIC_URL")
                or f"ws://{self.host}:{self.notifiers[0].port}/api/v1/ws/tasks"
            )
        if self.relay_process:
            env["BACKLOG_RELAY_ENABLED"] = "false"
            if self.relay is None:
                self.add_relay()
        self.backlog = ServiceProcess(
            "sprintboard_backlog", self.host, port, env, self.logs / f"backlog-{port}.log"
        )
        return self.backlog.start()

    def add_relay(self, port: int | None = None) -> ServiceProcess:
        """The standalone relay (`sprintboard_backlog.entrypoints.relay`), its metrics on `port`."""
        port = port or free_port()
        env = self.base_env() | {"BACKLOG_HOST": self.host, "BACKLOG_RELAY_METRICS_PORT": str(port)}
        self.relay = ServiceProcess(
            "sprintboard_backlog.entrypoints.relay",
            self.host,
            port,
            env,
            self.logs / f"relay-{port}.log",
            health_path="/metrics",
        )
        return self.relay.start()

    def add_notifier(self, port: int | None = None, timeout: float = 60.0) -> ServiceProcess:
        port = port or free_port()
        env = self.base_env() | {
            "NOTIFIER_HOST": self.host,
            "NOTIFIER_PORT": str(port),
            "NOTIFIER_INSTANCE_ID": f"notifier-{len(self.notifiers) + 1}",
        }
        # Ready, not live: a notifier answers /health/live before its stream consumer runs, and refuses
        # sockets (1013) until it does; a test that connects at once would lose that race under load.
        notifier = ServiceProcess(
            "sprintboard_notifier",
            self.host,
            port,
            env,
            self.logs / f"notifier-{port}.log",
            health_path="/health/ready",
        )
        self.notifiers.append(notifier.start(timeout))
        return notifier

    def stop(self) -> None:
        for proc in [*self.notifiers, *(p for p in (self.backlog, self.relay) if p is not None)]:
            proc.stop()
        if self._created_database is not None:
            with contextlib.suppress(Exception):
                asyncio.run(drop_database(self._created_database))
        for server in (self.nats, self.postgres):
            if server is not None:
                server.cleanup()


@contextlib.contextmanager
def running_stack(notifiers: int = 1, **kwargs: object) -> Iterator[Stack]:
    """A started stack: servers (env URLs or embedded), migrated and seeded, notifiers, then the backlog."""
    stack = Stack(
        database_url=os.environ.get("DATABASE_URL") or None,
        nats_url=os.environ.get("NATS_URL") or None,
        isolate_database=True,
        **kwargs,  # type: ignore[arg-type]
    )
    start_stack(stack, notifiers)
    try:
        yield stack
    finally:
        stack.stop()


def start_stack(stack: Stack, notifiers: int = 1) -> Stack:
    """Servers (env URLs or embedded), migrated and seeded, notifiers, then the backlog; all stopped again
    when any of it fails to start."""
    try:
        stack.start_servers()
        stack.migrate_and_seed()
        for _ in range(notifiers):
            stack.add_notifier()
        stack.add_backlog()
    except BaseException:
        stack.stop()
        raise
    return stack
