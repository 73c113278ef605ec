"""Servers under test behind one interface: the three baselines as child processes, and our notifier."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from bench.events import BENCH_ORG, EventFactory, JetStreamPublisher
from bench.procs import Child

NODE_DIR = Path(__file__).resolve().parent / "node"


class Target(Protocol):
    """What the fan-out and connection scenarios need from a server."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int: ...

    @property
    def first_frames(self) -> list[str]: ...

    @property
    def ready_frames(self) -> int: ...

    async def send(self, events: int, rate: float) -> dict[str, Any]: ...

    async def stop(self) -> None: ...


@dataclass
class Baseline:
    """A baseline server process (`bench.servers.*` or the Node script); `batch` events per frame."""

    name: str
    child: Child
    frame_bytes: int
    batch: int = 1
    first_frames: list[str] = field(default_factory=list)
    ready_frames: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.child.hello['port']}/"

    @property
    def pid(self) -> int:
        return self.child.pid

    async def send(self, events: int, rate: float) -> dict[str, Any]:
        cmd = {"cmd": "send", "events": events, "rate": rate, "size": self.frame_bytes, "batch": self.batch}
        return await self.child.call(cmd, timeout=600)

    async def stop(self) -> None:
        await self.child.stop()


def ensure_node_modules() -> str | None:
    """`npm ci` in bench/node when its node_modules is missing; returns why Node cannot run, if it cannot."""
    if shutil.which("node") is None:
        return "node is not installed"
    if (NODE_DIR / "node_modules" / "ws").is_dir():
        return None
    if shutil.which("npm") is None:
        return "npm is not installed"
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return None if done.returncode == 0 else f"npm ci failed: {done.stderr.strip()[-300:]}"


BASELINES = {
    "floor": "bare uvloop protocol, one pre-built frame written per socket",
    "floor-batch10": "bare uvloop protocol, ten events per frame",
    "websockets": "websockets broadcast()",
    "node-ws": "Node.js ws, send() per client",
}


async def start_baseline(name: str, frame_bytes: int) -> Baseline:
    if name in ("floor", "floor-batch10"):
        child = await Child.python(name, "bench.servers.floor")
        return Baseline(name, child, frame_bytes, batch=10 if name == "floor-batch10" else 1)
    if name == "websockets":
        return Baseline(name, await Child.python(name, "bench.servers.wsbroadcast"), frame_bytes)
    if name == "node-ws":
        child = await Child.start(name, ["node", str(NODE_DIR / "broadcast.js")], cwd=str(NODE_DIR))
        return Baseline(name, child, frame_bytes)
    raise ValueError(f"unknown baseline {name}")


@dataclass
class NotifierTarget:
    """Our notifier as the stack runs it; events go in through JetStream like the relay's."""

    name: str
    url: str
    pid: int
    publisher: JetStreamPublisher
    first_frames: list[str]
    ready_frames: int = 2  # welcome, subscribed

    async def send(self, events: int, rate: float) -> dict[str, Any]:
        return await self.publisher.send(events, rate)

    async def stop(self) -> None:
        """The stack owns the process; only the publisher is ours."""
        await self.publisher.close()


def event_frame_bytes(fallback: int = 300) -> int:
    """The size of one of our event frames: a contract event plus the notifier's `seq` and `epoch`."""
    try:
        _, body = EventFactory().build()
    except ImportError:
        return fallback
    return len(body) + len(',"seq":1234567,"epoch":"2026-01-01T00:00:00.000000+00:00"')


def notifier_frames(token: str, sprint_id: str, batch: bool) -> list[str]:
    subscribe: dict[str, Any] = {"type": "subscribe", "sprint_id": sprint_id}
    if batch:
        subscribe["batch"] = True
    return [orjson.dumps({"type": "auth", "token": token}).decode(), orjson.dumps(subscribe).decode()]


def bench_token(secret: str, sub: str = "bench-user") -> str:
    from sprintboard_kit.tokens import mint_dev_token

    return str(
        mint_dev_token(secret, sub=sub, name="Bench User", email=f"{sub}@example.com", org_id=BENCH_ORG)
    )


async def start_notifier_target(
    notifier_url: str, pid: int, nats_url: str, secret: str, batch: bool
) -> NotifierTarget:
    factory = EventFactory()
    publisher = JetStreamPublisher(nats_url, factory)
    await publisher.connect()
    ws_url = notifier_url.replace("http://", "ws://") + "/api/v1/ws/tasks"
    frames = notifier_frames(bench_token(secret), str(factory.sprint_id), batch)
    return NotifierTarget("notifier-batched" if batch else "notifier", ws_url, pid, publisher, frames)
