"""The orchestrator's side of the load clients: sockets split over a few client processes."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.procs import Child, Meter


class ClientPool:
    """`workers` client processes; each gets its own slice of the source addresses."""

    def __init__(self, workers: list[Child], addrs: list[str], sample_sockets: int) -> None:
        self.workers = workers
        self.addrs = addrs
        self.sample_sockets = sample_sockets
        self.count = 0
        self.meters = [Meter(w.pid) for w in workers]

    @classmethod
    async def start(cls, workers: int, addrs: list[str], sample_sockets: int = 64) -> ClientPool:
        children = await asyncio.gather(
            *(Child.python(f"loadclient-{i}", "bench.loadclient") for i in range(workers))
        )
        return cls(list(children), addrs, sample_sockets)

    def _addrs_of(self, i: int) -> list[str]:
        n = len(self.workers)
        mine = self.addrs[i::n]
        return mine or self.addrs

    async def _all(self, cmds: list[dict[str, Any]], timeout: float = 300.0) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(w.call(c, timeout) for w, c in zip(self.workers, cmds, strict=True)))
        )

    async def connect(
        self,
        url: str,
        count: int,
        first_frames: list[str] | None = None,
        ready_frames: int = 0,
        timeout: float = 120.0,
        first_frames_each: list[list[str]] | None = None,
        urls_each: list[str] | None = None,
    ) -> dict[str, Any]:
        """Open `count` more sockets in total; returns how many are open and the first errors.

        `first_frames_each`: socket i of all sends entry i modulo its length instead of `first_frames`;
        `urls_each`: socket i opens entry i modulo its length instead of `url`."""
        n = len(self.workers)
        shares = [count // n + (1 if i < count % n else 0) for i in range(n)]
        cmds = [
            {
                "cmd": "connect",
                "url": url,
                "count": share,
                "addrs": self._addrs_of(i),
                "first_frames": first_frames or [],
                "first_frames_each": (first_frames_each or [])[i::n],
                "urls_each": (urls_each or [])[i::n],
                "ready_frames": ready_frames,
                "timeout": timeout,
            }
            for i, share in enumerate(shares)
        ]
        replies = await self._all(cmds, timeout + 30)
        self.count += count
        return {
            "open": sum(r["open"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "seconds": max(r["seconds"] for r in replies),
        }

    async def reset(self, sample_limit: int = 20000, sample_sockets: int | None = None) -> None:
        """Zero the counters and start sampling about `sample_sockets` sockets spread over all processes."""
        per_worker = max(1, self.count // max(1, len(self.workers)))
        sampled = sample_sockets or self.sample_sockets
        every = max(1, per_worker // max(1, sampled // len(self.workers)))
        await self._all(
            [{"cmd": "reset", "sample_every": every, "sample_limit": sample_limit}] * len(self.workers)
        )
        for m in self.meters:
            m.start()

    @staticmethod
    def _merge(replies: list[dict[str, Any]]) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for r in replies:
            for k, v in r["close_reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        return {
            "open": sum(r["open"] for r in replies),
            "closed": sum(r["closed"] for r in replies),
            "close_reasons": reasons,
            "frames": sum(r["frames"] for r in replies),
            "events": sum(r["events"] for r in replies),
            "min_events": min(r["min_events"] for r in replies),
            "last_at": max(r["last_at"] for r in replies),
        }

    async def stats(self) -> dict[str, Any]:
        return self._merge(await self._all([{"cmd": "stats"}] * len(self.workers)))

    async def wait(self, events: int, timeout: float) -> dict[str, Any]:
        """Until every open socket has `events` events (or the timeout); then the merged counters."""
        cmd = {"cmd": "wait", "events": events, "timeout": timeout}
        return self._merge(await self._all([cmd] * len(self.workers), timeout + 30))

    async def settle(self, quiet: float = 0.3, limit: float = 10.0) -> dict[str, Any]:
        """Until no frame has arrived for `quiet` seconds (at most `limit`): late frames of one step
        must not be counted in the next."""
        deadline = asyncio.get_running_loop().time() + limit
        stats = await self.stats()
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(quiet)
            now = await self.stats()
            if now["frames"] == stats["frames"]:
                return now
            stats = now
        return stats

    async def samples(self, arrivals: bool = False) -> tuple[list[float], list[tuple[str, float]], int]:
        """Lags (ms) of every sampled event, arrivals by task version if asked, and how many sockets."""
        replies = await self._all([{"cmd": "samples", "arrivals": arrivals}] * len(self.workers))
        lags = [x for r in replies for x in r["lags_ms"]]
        found = [(e, float(t)) for r in replies for e, t in r["arrivals"]]
        return lags, found, sum(r["sampled"] for r in replies)

    def cpu(self) -> float:
        """Client processes' CPU since the last reset, in % of one core (to spot a client bottleneck)."""
        return round(sum(m.read()["cpu_pct"] for m in self.meters), 1)

    def busiest_cpu(self) -> float:
        """The busiest client process's CPU since the last reset, in % of one core (each has one loop)."""
        return max((m.read()["cpu_pct"] for m in self.meters), default=0.0)

    async def close(self) -> None:
        """Drop every socket, keep the processes for the next server."""
        await self._all([{"cmd": "close"}] * len(self.workers))
        self.count = 0

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers))
