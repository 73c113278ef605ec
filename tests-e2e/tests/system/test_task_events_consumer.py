"""Another service's consumer (examples/task_events_consumer.py) gets every event once, across a restart,
written for v1 subjects (the v1 stream, found by subject) or for v2 ones (BACKLOG_TASKS, one tenant)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest

from sprintboard_contracts.subjects import (
    STREAM_NAME,
    V1_STREAM_NAME,
    filter_for_project,
    filter_v2_for_project,
    parse_subject,
    parse_subject_v2,
)
from sprintboard_devstack.stream_reader import read_stream
from sprintboard_e2e.api import BacklogApi
from sprintboard_e2e.compose import REPO_ROOT
from sprintboard_e2e.environment import DEMO_ORG_ID, Deployment

EXAMPLE = REPO_ROOT / "examples" / "task_events_consumer.py"


class Consumer:
    """The example as a subprocess: its stdout lines are the events it handled."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []

    async def read(self, count: int, timeout: float = 15) -> None:
        """Read stdout until `count` events in all were handled."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while len(self.lines) < count:
                line = await self.process.stdout.readline()
                if not line:
                    code, errors = await self.process.wait(), await self.process.stderr.read()
                    raise AssertionError(f"consumer exited early with {code}: {errors.decode()[-3000:]}")
                self.lines.append(json.loads(line))

    async def stop(self) -> list[dict[str, Any]]:
        """SIGTERM (a clean stop), then whatever else it printed."""
        self.process.send_signal(signal.SIGTERM)
        rest, errors = await asyncio.wait_for(self.process.communicate(), 15)
        assert self.process.returncode == 0, errors.decode(errors="replace")[-3000:]
        self.lines += [json.loads(line) for line in rest.splitlines() if line.strip()]
        return self.lines


@asynccontextmanager
async def consumer(nats_url: str, durable: str, project_id: str, version: int) -> AsyncIterator[Consumer]:
    tenant = [f"--tenant={DEMO_ORG_ID}"] if version == 2 else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        f"--nats-url={nats_url}",
        f"--durable={durable}",
        f"--project={project_id}",
        f"--version={version}",
        *tenant,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    async with asyncio.timeout(20):  # its log line says the durable consumer is bound
        while b"consuming" not in (line := await process.stderr.readline()):
            assert line, f"consumer exited with {await process.wait()}"
    try:
        yield Consumer(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stored_event_ids(nats_url: str, project_id: str, count: int, version: int) -> list[str]:
    """What the stream the consumer reads holds for the project (read straight from NATS), once all
    `count` are there."""
    if version == 2:
        stream, subjects = STREAM_NAME, filter_v2_for_project(DEMO_ORG_ID, project_id)
    else:
        stream, subjects = V1_STREAM_NAME, filter_for_project(project_id)
    async with asyncio.timeout(15):
        while len(stored := await read_stream(nats_url, subjects, stream=stream)) < count:
            await asyncio.sleep(0.1)
    return [str(e.data["event_id"]) for e in stored]


@pytest.mark.parametrize("version", [1, 2])
async def test_a_durable_consumer_gets_every_event_exactly_once_across_a_restart(
    deployment: Deployment, alice: BacklogApi, version: int
) -> None:
    project_id = await alice.create_project()
    story_id = await alice.create_ready_story(project_id, "Reporting")
    other_project = await alice.create_project()  # its events are outside the consumer's filter
    await alice.create_task(await alice.create_ready_story(other_project, "Elsewhere"), "Not for us")
    durable = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        async with consumer(deployment.nats_url, durable, project_id, version) as first_run:
            tasks = [await alice.create_task(story_id, f"Report {n}") for n in range(2)]
            await alice.take(tasks[0])
            await first_run.read(3)
            before = await first_run.stop()

        # While it is away: more changes; they wait in the stream for the same durable consumer.
        await alice.start(tasks[0])
        await alice.take(tasks[1])
        await alice.release(tasks[1])

        async with consumer(deployment.nats_url, durable, project_id, version) as second_run:
            await alice.complete(tasks[0])
            await second_run.read(4)
            await asyncio.sleep(0.5)  # a redelivery, were there one, would come now
            after = await second_run.stop()

        expected = await stored_event_ids(deployment.nats_url, project_id, 7, version)
        received = [line["event_id"] for line in before + after]
        assert received == expected, "every event of the project, in stream order, none twice"
        # Each on the subjects it was written for: v1 ones from the v1 stream, v2 ones naming the tenant.
        for line in before + after:
            if version == 1:
                assert parse_subject(line["subject"]).version == "v1"
            else:
                assert parse_subject_v2(line["subject"]).tenant_id == line["tenant_id"] == DEMO_ORG_ID
        assert [line["type"] for line in after] == [
            "status_changed",
            "ownership_taken",
            "ownership_released",
            "status_changed",
        ]
        assert all(line["project_id"] == project_id for line in before + after)
    finally:
        nc = await nats.connect(deployment.nats_url)
        try:
            await nc.jetstream().delete_consumer(V1_STREAM_NAME if version == 1 else STREAM_NAME, durable)
        finally:
            await nc.close()
