"""Another service's consumer of Sprintboard task events: a durable JetStream pull consumer, explicit acks.

Run it (NATS_URL or --nats-url; the streams are created by the backlog or the notifier):

    python examples/task_events_consumer.py --durable reporting                  # every v1 event
    python examples/task_events_consumer.py --durable reporting --project <id>   # one project
    python examples/task_events_consumer.py --durable audit --type ownership_taken
    python examples/task_events_consumer.py --durable billing --version 2 --tenant <tenant_id>

`--version 1` (the default) is a consumer written for v1 subjects (`backlog.tasks.v1.<project>.<type>`):
it names no stream, so NATS finds the one holding v1 subjects, `BACKLOG_TASKS_V1` (sourced from
`BACKLOG_TASKS`, every event once, in order). `--version 2` reads `BACKLOG_TASKS` itself on v2 subjects
(`backlog.tasks.v2.<tenant>.<project>.<sprint>.<type>`), where NATS filters by tenant (`--tenant`).
Both get the same payloads.

Each event is printed to stdout as one JSON line (the event as published, plus its stream `seq` and its
`subject`); logs go to stderr. The consumer is durable: NATS remembers what it acknowledged, so a restart
under the same `--durable` name continues after the last acknowledged event; events published while it
was away are delivered then. A message is acknowledged (and the ack confirmed by the server) only after it
was handled, so a clean stop (SIGINT/SIGTERM) loses nothing and repeats nothing. After a crash, the one
message being handled may come again: make handling idempotent on `event_id`, as any consumer should.

Needs `nats-py` and `sprintboard-contracts` (the event models and subject names).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import uuid

import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as FetchTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sprintboard_contracts.events import InvalidEvent, TaskEvent, parse_event
from sprintboard_contracts.subjects import (
    ALL_V1,
    ALL_V2,
    STREAM_NAME,
    SUBJECT_PREFIX,
    SUBJECT_VERSION,
    SUBJECT_VERSION_V2,
    EventType,
    filter_for_project,
    filter_v2_for_project,
    filter_v2_for_tenant,
)
from sprintboard_contracts.tenant_token import tenant_token

log = logging.getLogger("task_events_consumer")


def subject_filter(project: str | None, event_type: str | None) -> str:
    """The v1 subjects to follow: all, one project's, one type's, or one type in one project."""
    if project is None and event_type is None:
        return ALL_V1
    base = filter_for_project(project) if project else f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.*.*"
    return base if event_type is None else base.rsplit(".", 1)[0] + "." + EventType(event_type).value


def subject_filter_v2(tenant: str | None, project: str | None, event_type: str | None) -> str:
    """The v2 subjects to follow: as `subject_filter`, and narrowed to one tenant when `tenant` is given."""
    if event_type is None and tenant is not None:
        return filter_v2_for_project(tenant, project) if project else filter_v2_for_tenant(tenant)
    if (tenant, project, event_type) == (None, None, None):
        return ALL_V2
    tokens = (
        tenant_token(tenant) if tenant else "*",
        str(uuid.UUID(project)) if project else "*",
        "*",  # any sprint, or none
        EventType(event_type).value if event_type else "*",
    )
    return ".".join((SUBJECT_PREFIX, SUBJECT_VERSION_V2, *tokens))


def handle(seq: int, subject: str, event: TaskEvent, payload: dict[str, object]) -> None:
    """The service's own work goes here; this one prints the event as a JSON line."""
    print(json.dumps({"seq": seq, "subject": subject, **payload}), flush=True)


async def confirm(msg: Msg, tries: int = 3, timeout: float = 5.0) -> None:
    """Ack and wait for the server's confirmation. A busy server can take longer than nats-py's 1 s
    default to answer, and that must not stop the consumer: each try waits `timeout`; after the last the
    ack is probably applied anyway (JetStream redelivers it after `ack_wait` if not)."""
    for attempt in range(1, tries + 1):
        try:
            await msg.ack_sync(timeout=timeout)
            return
        except FetchTimeout:
            log.warning("ack of seq %d not confirmed within %.0f s (try %d of %d)",
                        msg.metadata.sequence.stream, timeout, attempt, tries)  # fmt: skip


async def consume(
    nats_url: str, durable: str, subject: str, deliver: str, stop: asyncio.Event, stream: str | None = None
) -> None:
    """Follow `subject` as durable `durable`; `stream=None` lets NATS find the stream holding `subject`."""
    nc = await nats.connect(nats_url, name=f"task-events-consumer-{durable}", max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if deliver == "new" else DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=1000,
        )
        # Creates the durable consumer the first time; later runs bind to it and resume where it was.
        sub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        info = await sub.consumer_info()
        if info.config.filter_subject != subject:
            followed = info.config.filter_subject
            raise SystemExit(f"durable {durable!r} follows {followed!r}, not {subject!r}: use another name")
        name, pending = info.stream_name, info.num_pending
        log.info("consuming %s from %s as durable %r (%d pending)", subject, name, durable, pending)
        while not stop.is_set():
            try:
                messages = await sub.fetch(batch=16, timeout=1)
            except TimeoutError:  # nats.errors.TimeoutError is one, and fetch also raises the
                continue  # plain one when its deadline runs out between its two pull requests
            for msg in messages:
                try:
                    event = parse_event(msg.data)
                except InvalidEvent as exc:
                    log.warning("invalid event at seq %d skipped: %s", msg.metadata.sequence.stream, exc)
                    await msg.term()  # never redelivered
                    continue
                handle(msg.metadata.sequence.stream, msg.subject, event, json.loads(msg.data))
                await confirm(msg)  # confirmed: a restart right now will not see it again
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--durable", default="task-events-example", help="the consumer's name in NATS")
    parser.add_argument("--project", help="only this project's events")
    parser.add_argument("--type", choices=[t.value for t in EventType], help="only events of this type")
    parser.add_argument(
        "--version", type=int, choices=(1, 2), default=1,
        help="the subjects to read: v1 (stream BACKLOG_TASKS_V1, found by subject) or v2 (BACKLOG_TASKS)",
    )  # fmt: skip
    parser.add_argument("--tenant", help="only this tenant's events (v2 subjects only)")
    parser.add_argument(
        "--from", dest="deliver", choices=("all", "new"), default="all",
        help="where a new durable starts: every event the stream keeps, or only new ones",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.tenant is not None and args.version != 2:
        parser.error("--tenant needs --version 2: v1 subjects do not carry the tenant")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        if args.version == 2:
            subject, stream = subject_filter_v2(args.tenant, args.project, args.type), STREAM_NAME
        else:
            subject, stream = subject_filter(args.project, args.type), None
        await consume(args.nats_url, args.durable, subject, args.deliver, stop, stream)
        log.info("stopped")

    asyncio.run(run())


if __name__ == "__main__":
    main()
