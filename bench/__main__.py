"""`python -m bench [--quick]`: start the stack, run every scenario, write the JSON and Markdown results."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench import machine
from bench.plans import FULL, QUICK
from bench.procs import kill_all
from bench.report import markdown
from bench.runner import SCENARIOS, Run, Services
from bench.targets import BASELINES, ensure_node_modules, event_frame_bytes

RESULTS = Path(__file__).resolve().parent / "results"
DOC = machine.ROOT / "docs" / "benchmarks.md"
log = logging.getLogger("bench")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, about 5 minutes")
    p.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}"
    )
    p.add_argument("--no-stack", action="store_true", help="baselines only; do not start our services")
    p.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated subset of the baselines")
    p.add_argument("--frame-bytes", type=int, default=0, help="baseline event size (default: as ours)")
    p.add_argument("--fanout-sockets", help="comma-separated fan-out sizes instead of the plan's")
    p.add_argument("--idle-sockets", type=int, help="idle sockets to hold instead of the plan's")
    p.add_argument("--repeats", type=int, help="repeats of each fan-out ladder instead of the plan's")
    p.add_argument(
        "--render",
        action="store_true",
        help="only write docs/benchmarks.md again from bench/results/latest.json (after a report change)",
    )
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args(argv)


@contextlib.contextmanager
def _stack(enabled: bool, errors: dict[str, str]) -> Any:
    """The project's stack as `make up` would run it, quieter; None (with the reason) when it cannot start."""
    if not enabled:
        yield None
        return
    try:
        from sprintboard_devstack.stack import running_stack

        env = {
            "BACKLOG_ACCESS_LOG": "false",
            "BACKLOG_LOG_LEVEL": "WARNING",
            "NOTIFIER_LOG_LEVEL": "warning",
        }
        # As `make up` runs it: the relay in its own process, woken by the API's NOTIFY.
        # Durable: fsync, synchronous_commit and full_page_writes on, so a write is paid as in production.
        context = running_stack(notifiers=1, extra_env=env, relay_process=True, durable_database=True)
        stack = context.__enter__()
    except Exception as exc:
        errors["stack"] = f"{type(exc).__name__}: {exc}"[:800]
        log.error("the stack did not start; measuring the baselines only: %s", errors["stack"])
        yield None
        return
    try:
        notifier, backlog = stack.notifiers[0], stack.backlog
        assert notifier.proc is not None and backlog is not None
        yield Services(
            backlog_url=backlog.url,
            notifier_url=notifier.url,
            notifier_pid=notifier.proc.pid,
            nats_url=str(stack.nats_url),
            database_url=str(stack.database_url),
            jwt_secret=stack.jwt_secret,
            relay_metrics_url=stack.relay.url if stack.relay is not None else None,
        )
    finally:
        context.__exit__(None, None, None)


async def _run(run: Run) -> dict[str, Any]:
    try:
        return await run.run()
    finally:
        await kill_all()


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.render:
        DOC.write_text(markdown(orjson.loads((RESULTS / "latest.json").read_bytes())))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    plan = QUICK if args.quick else FULL
    plan = replace(plan, frame_bytes=args.frame_bytes or plan.frame_bytes or event_frame_bytes())
    if args.fanout_sockets:
        plan = replace(plan, fanout_sockets=tuple(int(s) for s in args.fanout_sockets.split(",")))
    if args.idle_sockets:
        plan = replace(plan, idle_sockets=args.idle_sockets, idle_step=min(plan.idle_step, args.idle_sockets))
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
    only = tuple(s for s in args.only.split(",") if s)
    started = time.monotonic()
    limit = machine.raise_open_files()
    log.info("bench %s plan; open-files limit %d", plan.name, limit)
    errors: dict[str, str] = {}
    baselines = [b for b in args.baselines.split(",") if b in BASELINES]
    if "node-ws" in baselines and (why := ensure_node_modules()) is not None:
        errors["node-ws"] = why
        baselines.remove("node-ws")
    results: dict[str, Any] = {
        "plan": plan.name,
        "repeats": plan.repeats,
        "settings": asdict(plan),
        "machine": machine.describe(),
    }
    with _stack(not args.no_stack, errors) as services:
        run = Run(plan, services, baselines, only)
        results.update(uvloop.run(_run(run)))
        errors.update(run.errors)
    results["errors"] = errors
    results["duration_s"] = round(time.monotonic() - started, 1)
    complete = (
        plan == replace(FULL, frame_bytes=plan.frame_bytes)
        and only == SCENARIOS
        and baselines == list(BASELINES)
        and "stack" not in errors
    )
    _write(results, "latest" if complete else ("quick" if args.quick else "partial"))
    log.info("done in %.0f s", results["duration_s"])
    return 0


def _write(results: dict[str, Any], name: str) -> None:
    """Only a complete full run replaces latest.json and docs/benchmarks.md; others go beside them."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    results["output"] = f"bench/results/{name}.json"
    raw = RESULTS / "raw"
    raw.mkdir(exist_ok=True)
    data = orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (raw / f"{name}-{stamp}.json").write_bytes(data)
    text = markdown(results)
    (RESULTS / f"{name}.json").write_bytes(data)
    doc = DOC if name == "latest" else RESULTS / f"{name}.md"
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(text)
    log.info("wrote %s and %s", RESULTS / f"{name}.json", doc)
    sys.stdout.write("\n" + text)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
