"""Notifier test fixtures; the helpers live in `notifier_kit` next to this file."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

# importlib import mode does not put test folders on sys.path; the kit is imported by name.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def tenant() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"
