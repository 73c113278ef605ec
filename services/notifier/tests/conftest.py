"""Notifier test fixtures; the helpers live in `notifier_kit` next to this file."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sprintboard_devstack.servers import EmbeddedNats

# importlib import mode does not put test folders on sys.path; the kit is imported by name.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def tenant() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fresh_nats() -> Iterator[str]:
    """A NATS server of the test's own (its streams start empty), for tests that recreate or count them."""
    server = EmbeddedNats().start()
    try:
        yield server.url
    finally:
        server.cleanup()
