"""Child processes of a bench run: JSON-line control over pipes, CPU/RSS metering, and killed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from typing import Any

import orjson
import psutil

_PR_SET_PDEATHSIG = 1
_LIVE: set[asyncio.subprocess.Process] = set()


def _die_with_parent() -> None:
    """Runs in the child before exec: nothing outlives an interrupted bench run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """A process that prints one JSON line when ready and answers each JSON-line command with one line."""

    def __init__(self, proc: asyncio.subprocess.Process, hello: dict[str, Any], name: str) -> None:
        self.proc = proc
        self.hello = hello
        self.name = name
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(cls, name: str, args: list[str], timeout: float = 60.0, **kwargs: Any) -> Child:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
            limit=1 << 26,
            **kwargs,
        )
        _LIVE.add(proc)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        except TimeoutError:
            await kill(proc)
            raise RuntimeError(f"{name} did not start in {timeout}s") from None
        if not line:
            await kill(proc)
            raise RuntimeError(f"{name} exited before it was ready (code {proc.returncode})")
        return cls(proc, orjson.loads(line), name)

    @classmethod
    async def python(cls, name: str, module: str, *args: str, **kwargs: Any) -> Child:
        return await cls.start(name, [sys.executable, "-m", module, *args], **kwargs)

    async def call(self, cmd: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write(orjson.dumps(cmd) + b"\n")
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"{self.name} exited (code {self.proc.returncode}) during {cmd.get('cmd')}")
        reply: dict[str, Any] = orjson.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b'{"cmd":"quit"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 5)
        await kill(self.proc)


async def quiet(pid: int, below_pct: float = 25.0, limit: float = 30.0, window: float = 0.5) -> float:
    """Wait until a process uses less than `below_pct` of a core (at most `limit` s); seconds waited."""
    meter = Meter(pid)
    started = time.monotonic()
    while time.monotonic() - started < limit:
        meter.start()
        await asyncio.sleep(window)
        if meter.read()["cpu_pct"] < below_pct:
            break
    return round(time.monotonic() - started, 1)


async def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 10)
    _LIVE.discard(proc)


async def kill_all() -> None:
    for proc in list(_LIVE):
        await kill(proc)


class Meter:
    """CPU (user, system) and RSS of a process and its children over a window."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self._t0 = 0.0
        self._cpu0 = (0.0, 0.0)

    def _cpu(self) -> tuple[float, float]:
        user = system = 0.0
        for p in [self._proc, *self._safe_children()]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                user, system = user + t.user, system + t.system
        return user, system

    def _safe_children(self) -> list[psutil.Process]:
        try:
            return list(self._proc.children(recursive=True))
        except psutil.Error:
            return []

    def rss(self) -> int:
        total = 0
        for p in [self._proc, *self._safe_children()]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = self._cpu()

    def read(self) -> dict[str, float]:
        """CPU in % of one core since `start`, and the kernel's share of it."""
        wall = max(1e-9, time.monotonic() - self._t0)
        user, system = self._cpu()
        du, ds = user - self._cpu0[0], system - self._cpu0[1]
        return {
            "cpu_pct": round(100 * (du + ds) / wall, 1),
            "kernel_share": round(ds / (du + ds), 2) if du + ds > 0 else 0.0,
            "rss_mib": round(self.rss() / 2**20, 1),
        }
