"""`python -m sprintboard_notifier` as the stack runs it: a real process, configured by environment only."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from notifier_kit import SECRET, start_notifier_process, token
from websockets.asyncio.client import connect

from sprintboard_devstack.servers import free_port
from sprintboard_notifier.app import listener, server_config
from sprintboard_notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def notifier_process(nats_url: str, tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp_path / "notifier.log"
    proc = start_notifier_process(nats_url, port, log, NOTIFIER_LOG_LEVEL="info")
    try:
        yield port, log, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_module_serves_sockets_and_never_logs_the_token(
    notifier_process: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    port, log, proc = notifier_process
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                assert proc.poll() is None, log.read_text()
                await asyncio.sleep(0.05)
        secret_token = token("org-main")
        async with connect(f"ws://127.0.0.1:{port}/api/v1/ws/tasks?token={secret_token}") as ws:
            assert orjson.loads(await ws.recv())["type"] == "welcome"
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 20)
    text = log.read_text()
    assert "/api/v1/ws/tasks" in text and "[accepted]" in text
    assert secret_token not in text and secret_token.split(".")[2] not in text


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux only")
def test_every_accepted_socket_has_the_dead_peer_timeout_and_uvicorn_sends_no_pings() -> None:
    settings = NotifierSettings(jwt_secret=SECRET, port=free_port(), peer_timeout_seconds=7.5)
    config = server_config(settings, app=object())  # type: ignore[arg-type]
    # Our heartbeat frames and the kernel's timeout find dead peers; uvicorn's pings are off.
    assert config.ws_ping_interval is None and config.ws_ping_timeout is None
    sock = listener(config, settings)
    with sock:
        sock.listen()
        with socket.create_connection(sock.getsockname()[:2]):
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7500
