"""Stream setup against a real (throwaway) NATS: created as configured when missing, else left alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from sprintboard_contracts.subjects import STREAM_NAME, STREAM_SUBJECTS
from sprintboard_devstack.servers import EmbeddedNats
from sprintboard_kit.stream import (
    MINIMUM_SERVER_VERSION,
    StreamSettings,
    UnsupportedServer,
    ensure_stream,
    require_server_version,
    stream_epoch,
)


@pytest.fixture
async def js() -> AsyncIterator[JetStreamContext]:
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        try:
            yield nc.jetstream()
        finally:
            await nc.close()
    finally:
        server.cleanup()


async def test_a_missing_stream_is_created_with_the_settings(js: JetStreamContext) -> None:
    info = await ensure_stream(
        js, StreamSettings(max_age_seconds=3600, duplicate_window_seconds=300, max_msgs=50)
    )
    assert info.config.name == STREAM_NAME and info.config.subjects == list(STREAM_SUBJECTS)
    assert (info.config.max_age, info.config.duplicate_window, info.config.max_msgs) == (3600, 300, 50)
    assert stream_epoch(info) == stream_epoch(await js.stream_info(STREAM_NAME))


async def test_an_existing_stream_is_never_changed(js: JetStreamContext) -> None:
    first = await ensure_stream(js)
    again = await ensure_stream(js, StreamSettings(max_age_seconds=60, duplicate_window_seconds=600))
    assert (again.config.max_age, again.config.duplicate_window) == (7 * 24 * 3600, 120)
    assert stream_epoch(again) == stream_epoch(first)
    await js.delete_stream(STREAM_NAME)
    assert stream_epoch(await ensure_stream(js)) != stream_epoch(first)  # a recreated stream is a new epoch


def _older_nats_binary() -> Path | None:
    """The machine's own nats-server when it is older than the minimum (a 2.9 from the OS), else None."""
    found = os.environ.get("SPRINTBOARD_OLD_NATS_SERVER") or shutil.which(
        "nats-server", path="/usr/sbin:/usr/bin"
    )
    if not found:
        return None
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    if match is None or tuple(map(int, match.groups())) >= MINIMUM_SERVER_VERSION:
        return None
    return Path(found)


async def test_a_server_new_enough_passes_the_version_check() -> None:
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        try:
            require_server_version(nc)
        finally:
            await nc.close()
    finally:
        server.cleanup()


async def test_an_older_server_is_refused_naming_both_versions() -> None:
    binary = _older_nats_binary()
    if binary is None:
        pytest.skip("no nats-server older than 2.10 on this machine")
    server = EmbeddedNats()
    server.binary = binary
    server.start()
    try:
        nc = await nats.connect(server.url)
        try:
            version = nc.connected_server_version
            have = f"{version.major}.{version.minor}.{version.patch}"
            expected = rf"NATS server {re.escape(have)} is too old.*>= 2\.10\.0"
            with pytest.raises(UnsupportedServer, match=expected):
                require_server_version(nc)
        finally:
            await nc.close()
    finally:
        server.cleanup()
