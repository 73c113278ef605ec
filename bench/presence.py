"""Presence: what it costs the notifiers and NATS when viewers of many sprints join, stay, and reconnect.

Its own NATS and two notifiers (`ingest.Bed`, default settings: presence TTL 6 s, grace 3 s, diffs 0.5 s
apart). Every socket is a user of its own, subscribed to one of the sprints (spread over the tenants),
half of them on each notifier. Measured per phase, from the notifiers' own counters: CPU of both
notifier processes, NATS messages in and out (`/varz`), presence key writes, diffs and frames.
Phases: every socket joins at once; a quiet period (nothing changes: the instances' heartbeats only); every
socket closes and connects again at once (a reconnect storm within the grace: no leave, no join).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx
import orjson

from bench.clients import ClientPool
from bench.ingest import Bed, cpu_times
from bench.metrics import scrape

log = logging.getLogger("bench.presence")
COUNTERS = (
    "notifier_presence_diffs_total",
    "notifier_presence_frames_total",
    "notifier_presence_writes_total",
    "notifier_presence_updates_total",
)
QUIET_S = 10.0


def socket_frames(secret: str, sockets: int, sprints: int, tenants: int) -> list[list[str]]:
    """Auth and subscribe frames of each socket: user i of sprint i % sprints, in its sprint's tenant."""
    from sprintboard_kit.tokens import mint_dev_token

    sprint_ids = [str(uuid.uuid4()) for _ in range(sprints)]
    frames = []
    for i in range(sockets):
        s = i % sprints
        token = mint_dev_token(
            secret, sub=f"viewer-{i}", name=f"Viewer {i}", email=None, org_id=f"org-{s % tenants}"
        )
        frames.append(
            [
                orjson.dumps({"type": "auth", "token": token}).decode(),
                orjson.dumps({"type": "subscribe", "sprint_id": sprint_ids[s]}).decode(),
            ]
        )
    return frames


class Meter:
    """Both notifiers' CPU and presence counters and NATS's message counts, read at phase boundaries."""

    def __init__(self, bed: Bed, notifiers: list[Any]) -> None:
        self.bed = bed
        self.notifiers = notifiers

    async def read(self) -> dict[str, float]:
        out: dict[str, float] = {"t": time.monotonic()}
        for i, n in enumerate(self.notifiers):
            assert n.proc is not None
            user, system = cpu_times(n.proc.pid)
            out[f"cpu{i}"] = user + system
            samples = await scrape(n.url)
            for c in COUNTERS:
                out[c] = out.get(c, 0.0) + samples.get(c, 0.0)
        async with httpx.AsyncClient(timeout=10) as http:
            varz = (await http.get(f"http://127.0.0.1:{self.bed.nats.monitor_port}/varz")).json()
        out["nats_in"], out["nats_out"] = float(varz["in_msgs"]), float(varz["out_msgs"])
        return out

    async def settled(self, quiet: float = 2.0, limit: float = 120.0) -> dict[str, float]:
        """Read until the diffs and frames stopped growing for `quiet` seconds."""
        last, since, deadline = await self.read(), time.monotonic(), time.monotonic() + limit
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now = await self.read()
            if any(now[c] != last[c] for c in COUNTERS[:2]):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return now
        return await self.read()


def delta(a: dict[str, float], b: dict[str, float], sockets: int, sprints: int) -> dict[str, Any]:
    seconds = b["t"] - a["t"]
    cpu = sum(b[k] - a[k] for k in b if k.startswith("cpu"))
    d = {c.removeprefix("notifier_presence_").removesuffix("_total"): int(b[c] - a[c]) for c in COUNTERS}
    return {
        "seconds": round(seconds, 2),
        "notifier_cpu_s": round(cpu, 2),
        "notifier_cpu_ms_per_socket": round(cpu * 1000 / sockets, 3) if sockets else None,
        "nats_msgs_in": int(b["nats_in"] - a["nats_in"]),
        "nats_msgs_out": int(b["nats_out"] - a["nats_out"]),
        **d,
        "diffs_per_sprint": round(d["diffs"] / sprints, 2),
        # Per sprint and notifier, per second of the phase: the bound is 1 / diff interval (2 by default).
        "diffs_per_sprint_notifier_s": round(d["diffs"] / (2 * sprints) / seconds, 3) if seconds else None,
    }


async def measure(pool: ClientPool, sockets: int, sprints: int, tenants: int) -> dict[str, Any]:
    """`NOTIFIER_PRESENCE_ENABLED=false` in the environment measures the same without presence."""
    bed = Bed()
    await bed.start()
    try:
        second = await bed.add_notifier("presence-second")
        urls = [bed.ws_url, second.url.replace("http://", "ws://") + "/api/v1/ws/tasks"]
        meter = Meter(bed, [bed.notifier, second])
        frames = socket_frames(bed.secret, sockets, sprints, tenants)
        # Socket i views sprint i % sprints: every sprint's viewers are spread over both notifiers.
        halves = [[f for i, f in enumerate(frames) if (i // sprints) % 2 == side] for side in (0, 1)]

        async def join() -> dict[str, Any]:
            # One notifier's half after the other's: a load client serves one command at a time.
            opened = [
                await pool.connect(url, len(half), first_frames_each=half)
                for url, half in zip(urls, halves, strict=True)
            ]
            return {
                "open": opened[-1]["open"],  # the pool's count: every socket it holds
                "connect_s": round(sum(o["seconds"] for o in opened), 2),
            }

        t0 = await meter.read()
        joined = await join()
        t1 = await meter.settled()
        await asyncio.sleep(QUIET_S)
        t2 = await meter.read()
        await pool.close()
        rejoined = await join()
        t3 = await meter.settled()
        await pool.close()
        return {
            "presence_enabled": bed.env.get("NOTIFIER_PRESENCE_ENABLED", "true") != "false",
            "sockets": sockets,
            "sprints": sprints,
            "tenants": tenants,
            "open": joined["open"],
            "join": delta(t0, t1, sockets, sprints) | {"connect_s": joined["connect_s"]},
            "quiet": delta(t1, t2, 0, sprints),
            "reconnect": delta(t2, t3, sockets, sprints)
            | {"connect_s": rejoined["connect_s"], "open": rejoined["open"]},
        }
    finally:
        await bed.stop()
