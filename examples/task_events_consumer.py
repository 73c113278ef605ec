"""Another service's consumer of Sprintboard task events: a durable JetStream pull consumer, explicit acks.

Run it (NATS_URL or --nats-url; the stream BACKLOG_TASKS is created by the backlog or the notifier):

    python examples/task_events_consumer.py --durable reporting                  # every v1 event
    python examples/task_events_consumer.py --durable reporting --project <id>   # one project
    python examples/task_events_consumer.py --durable audit --type ownership_taken

Each event is printed to stdout as one JSON line (the event as published, plus its stream `seq`); logs go
to stderr. The consumer is durable: NATS remembers what it acknowledged, so a restart under the same
`--durable` name continues after the last acknowledged event; events published while it was away are
delivered then. A message is acknowledged (and the ack confirmed by the server) only after it was
handled, so a clean stop (SIGINT/SIGTERM) loses nothing and repeats nothing. After a crash, the one
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

import nats
from nats.errors import TimeoutError as FetchTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sprintboard_contracts.events import InvalidEvent, TaskEvent, parse_event
from sprintboard_contracts.subjects import (
    ALL_V1,
    STREAM_NAME,
    SUBJECT_PREFIX,
    SUBJECT_VERSION,
    EventType,
    filter_for_project,
)

log = logging.getLogger("task_events_consumer")


def subject_filter(project: str | None, event_type: str | None) -> str:
    """The v1 subjects to follow: all, one project's, one type's, or one type in one project."""
    if project is None and event_type is None:
        return ALL_V1
    base = filter_for_project(project) if project else f"{SUBJECT_PREFIX}.{SUBJECT_VERSION}.*.*"
    return base if event_type is None else base.rsplit(".", 1)[0] + "." + EventType(event_type).value


def handle(seq: int, event: TaskEvent, payload: dict[str, object]) -> None:
    """The service's own work goes here; this one prints the event as a JSON line."""
    print(json.dumps({"seq": seq, **payload}), flush=True)


async def consume(nats_url: str, durable: str, subject: str, deliver: str, stop: asyncio.Event) -> None:
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
        sub = await js.pull_subscribe(subject, durable=durable, stream=STREAM_NAME, config=config)
        info = await sub.consumer_info()
        if info.config.filter_subject != subject:
            followed = info.config.filter_subject
            raise SystemExit(f"durable {durable!r} follows {followed!r}, not {subject!r}: use another name")
        log.info("consuming %s as durable %r (%d pending)", subject, durable, info.num_pending)
        while not stop.is_set():
            try:
                messages = await sub.fetch(batch=16, timeout=1)
            except FetchTimeout:
                continue
            for msg in messages:
                try:
                    event = parse_event(msg.data)
                except InvalidEvent as exc:
                    log.warning("invalid event at seq %d skipped: %s", msg.metadata.sequence.stream, exc)
                    await msg.term()  # never redelivered
                    continue
                handle(msg.metadata.sequence.stream, event, json.loads(msg.data))
                await msg.ack_sync()  # confirmed: a restart right now will not see it again
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--durable", default="task-events-example", help="the consumer's name in NATS")
    parser.add_argument("--project", help="only this project's events")
    parser.add_argument("--type", choices=[t.value for t in EventType], help="only events of this type")
    parser.add_argument(
        "--from", dest="deliver", choices=("all", "new"), default="all",
        help="where a new durable starts: every event the stream keeps, or only new ones",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        subject = subject_filter(args.project, args.type)
        await consume(args.nats_url, args.durable, subject, args.deliver, stop)
        log.info("stopped")

    asyncio.run(run())


if __name__ == "__main__":
    main()
