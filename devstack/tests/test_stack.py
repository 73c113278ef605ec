"""The stack's processes count as started only when they can do their job, not merely when they answer."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from sprintboard_devstack.servers import free_port
from sprintboard_devstack.stack import Stack


def test_a_notifier_that_cannot_follow_the_stream_is_not_started() -> None:
    """A notifier answers `/health/live` before its stream consumer runs, and refuses sockets (1013) until
    it does: counted as started at that point, a test's first socket raced its start-up."""
    nowhere = f"nats://127.0.0.1:{free_port()}"  # no NATS there: the consumer can never start
    stack = Stack(database_url="postgresql://unused@127.0.0.1/none", nats_url=nowhere)
    port = free_port()
    try:
        with pytest.raises(RuntimeError, match="not answering /health/ready"):
            stack.add_notifier(port=port, timeout=5.0)
        # Not counted as started, so `stack.stop()` would not stop it: its process must be gone already.
        assert processes_with(f"NOTIFIER_PORT={port}") == []
    finally:
        stack.stop()


def processes_with(variable: str) -> list[int]:
    """The processes whose environment holds `variable` (NAME=value)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if variable.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found
