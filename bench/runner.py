"""Runs the scenarios of a plan against the baselines and, when the stack is up, our services."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from bench import (
    capacity,
    connections,
    fanout,
    first_event,
    ingest,
    latency,
    livepath,
    presence,
    scaleout,
    storm,
    tenants,
    writes,
)
from bench.board import create_board
from bench.clients import ClientPool
from bench.events import BENCH_ORG
from bench.machine import source_addresses
from bench.plans import Plan
from bench.targets import Target, bench_token, notifier_frames, start_baseline, start_notifier_target

log = logging.getLogger("bench")
SCENARIOS = (
    "ingest",
    "tenants",
    "storm",
    "scaleout",
    "capacity",
    "livepath",
    "presence",
    "fanout",
    "connections",
    "writes",
    "e2e",
    "first_event",
)
T = TypeVar("T")


@dataclass
class Services:
    """Where the stack's processes are (None when the stack is not running)."""

    backlog_url: str
    notifier_url: str
    notifier_pid: int
    nats_url: str
    database_url: str
    jwt_secret: str
    relay_metrics_url: str | None = None  # the relay's own process; None: it runs in the backlog's


@dataclass
class Run:
    plan: Plan
    services: Services | None
    baselines: list[str]
    only: tuple[str, ...] = SCENARIOS
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    async def guarded(self, name: str, work: Awaitable[T]) -> T | None:
        """A failing scenario is recorded and the run goes on with the next one."""
        log.info("%s", name)
        try:
            return await work
        except Exception as exc:
            self.errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            log.error("%s failed: %s", name, exc)
            log.debug("%s", traceback.format_exc())
            return None

    async def record(self, name: str, work: Awaitable[Any]) -> None:
        """Run a scenario guarded and keep its result under its name (nothing when it failed)."""
        result = await self.guarded(name, work)
        if result is not None:
            self.results[name] = result

    def _starters(self, batched_too: bool) -> dict[str, Callable[[], Awaitable[Target]]]:
        starters: dict[str, Callable[[], Awaitable[Target]]] = {
            name: partial(start_baseline, name, self.plan.frame_bytes) for name in self.baselines
        }
        if not batched_too:
            starters.pop("floor-batch10", None)
        svc = self.services
        if svc is not None:
            ours = partial(
                start_notifier_target, svc.notifier_url, svc.notifier_pid, svc.nats_url, svc.jwt_secret
            )
            starters["notifier"] = partial(ours, batch=False)
            if batched_too:
                starters["notifier-batched"] = partial(ours, batch=True)
        return starters

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        pool = await ClientPool.start(
            plan.client_workers, source_addresses(plan.source_addresses), plan.sample_sockets
        )
        try:
            if "ingest" in self.only:
                # Its own NATS and notifier (as a new user runs them): needs no stack.
                work = ingest.measure(
                    pool,
                    plan.ingest_events,
                    plan.ingest_tenants,
                    plan.ingest_phases,
                    plan.ingest_reading_phases,
                )
                await self.record("ingest", work)
            if "tenants" in self.only:
                work = tenants.measure(
                    pool,
                    plan.tenants,
                    plan.tenant_sprints,
                    plan.tenant_viewers,
                    plan.tenant_rates,
                    plan.tenant_seconds,
                )
                await self.record("tenants", work)
            if "storm" in self.only:
                work = storm.measure(
                    plan.storm_tenants,
                    plan.tenant_sprints,
                    plan.tenant_viewers,
                    plan.storm_rate,
                    plan.storm_before_seconds,
                    plan.storm_after_seconds,
                )
                await self.record("storm", work)
            if "scaleout" in self.only:
                # Its own 3-node NATS cluster and notifiers: needs no stack.
                work = scaleout.measure(pool, plan)
                await self.record("scaleout", work)
            if "capacity" in self.only:
                # Its own NATS and one notifier at a time, capped by a cgroup: needs no stack.
                await self.record("capacity", capacity.measure(pool, plan))
            if "livepath" in self.only:
                # One nats-server of its own per design: needs no stack.
                work = livepath.measure(
                    plan.livepath_tenants,
                    plan.livepath_rate,
                    plan.livepath_seconds,
                    plan.livepath_preload,
                    plan.livepath_fewer_tenants,
                    plan.repeats,
                )
                await self.record("livepath", work)
            if "presence" in self.only:
                work = presence.measure(
                    pool, plan.presence_sockets, plan.presence_sprints, plan.presence_tenants
                )
                await self.record("presence", work)
            # Connections first: the notifier is one process for the whole run, and memory freed after
            # a fan-out would be reused by idle sockets and hide part of their cost.
            if "connections" in self.only:
                await self._connections(pool)
            if "fanout" in self.only:
                await self._fanout(pool)
            if self.services is not None and ({"writes", "e2e", "first_event"} & set(self.only)):
                await self._service_scenarios(pool, self.services)
        finally:
            await pool.stop()
        return self.results

    async def _fanout(self, pool: ClientPool) -> None:
        out = self.results.setdefault("fanout", {})
        for sockets in self.plan.fanout_sockets:
            for name, start in self._starters(batched_too=True).items():
                rates = self.plan.batched_rates if "batch" in name else self.plan.fanout_rates
                work = fanout.measure(pool, start, sockets, rates, self.plan)
                result = await self.guarded(f"fanout {name} n={sockets}", work)
                if result is not None:
                    out.setdefault(str(sockets), {})[name] = result

    async def _connections(self, pool: ClientPool) -> None:
        out = self.results.setdefault("connections", {})
        for name, start in self._starters(batched_too=False).items():
            work = connections.measure(pool, start, self.plan.idle_sockets, self.plan.idle_step)
            result = await self.guarded(f"connections {name}", work)
            if result is not None:
                out[name] = result

    async def _service_scenarios(self, pool: ClientPool, svc: Services) -> None:
        from sprintboard_kit.tokens import user_id_for

        plan = self.plan
        token = bench_token(svc.jwt_secret)
        most = max(*plan.write_concurrency, 16)
        if "first_event" in self.only:
            work = first_event.measure(
                svc.backlog_url, svc.notifier_url, svc.jwt_secret, plan.first_takes, plan.first_fresh
            )
            await self.record("first_event", work)
        board = await self.guarded("board setup", create_board(svc.backlog_url, token, most))
        if board is None:
            return
        if "writes" in self.only:
            out = self.results.setdefault("writes", {})
            user = user_id_for(None, "bench-user")
            # One socket on the written sprint: the notifier's delivery lag is observed as it writes frames.
            ws_url = svc.notifier_url.replace("http://", "ws://") + "/api/v1/ws/tasks"
            await pool.connect(
                ws_url, 1, notifier_frames(token, board.sprint_id, batch=False), ready_frames=2
            )
            for c in plan.write_concurrency:
                work = writes.measure(
                    svc.backlog_url,
                    svc.database_url,
                    token,
                    BENCH_ORG,
                    user,
                    board.task_ids[:c],
                    plan.write_seconds,
                    svc.relay_metrics_url,
                    svc.notifier_url,
                )
                result = await self.guarded(f"writes concurrency={c}", work)
                if result is not None:
                    out[str(c)] = result
            await pool.close()
        if "e2e" in self.only:
            ws_url = svc.notifier_url.replace("http://", "ws://") + "/api/v1/ws/tasks"
            out = self.results.setdefault("e2e", {})
            # Every socket on the mutated sprint: at 200/s and 1,000 sockets that is 200,000 deliveries/s,
            # beyond one write per frame, so the board's batched mode is measured beside single frames.
            for label, sockets, rate, workers, batch in (
                ("light", plan.e2e_light_sockets, plan.e2e_light_rate, 2, False),
                ("loaded-batched", plan.e2e_loaded_sockets, plan.e2e_loaded_rate, 16, True),
                ("loaded-single", plan.e2e_loaded_sockets, plan.e2e_loaded_rate, 16, False),
            ):
                tasks = board.task_ids[:workers]
                work = latency.e2e(
                    pool,
                    ws_url,
                    notifier_frames(token, board.sprint_id, batch=batch),
                    svc.backlog_url,
                    svc.database_url,
                    [token],
                    tasks,
                    sockets,
                    rate,
                    plan.e2e_seconds,
                    svc.notifier_pid,
                    plan.settle_seconds,
                    svc.relay_metrics_url,
                )
                result = await self.guarded(f"e2e {label}", work)
                if result is not None:
                    out[label] = result
