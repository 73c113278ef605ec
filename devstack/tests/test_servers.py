"""The embedded servers start, answer, restart on the same storage, and stop."""

from __future__ import annotations

import signal
from pathlib import Path

import asyncpg
import nats
import pytest

from sprintboard_devstack.databases import fresh_database
from sprintboard_devstack.servers import EmbeddedNats, EmbeddedPostgres, free_port


async def test_embedded_postgres_survives_a_crash_and_keeps_its_data() -> None:
    server = EmbeddedPostgres().start()
    try:
        conn = await asyncpg.connect(server.url)
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()
        server.stop(signal.SIGKILL)
        with pytest.raises(OSError):
            await asyncpg.connect(server.url, timeout=2)
        server.start()
        conn = await asyncpg.connect(server.url)
        assert await conn.fetchval("SELECT n FROM kept") == 42
        await conn.close()
    finally:
        server.cleanup()
    assert not server.root.exists()


async def test_embedded_nats_keeps_jetstream_across_restart() -> None:
    server = EmbeddedNats().start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="T", subjects=["t.>"])
        ack = await js.publish("t.one", b"x")
        assert ack.seq == 1
        await nc.close()
        server.stop(signal.SIGKILL)
        server.start()
        nc = await nats.connect(server.url)
        info = await nc.jetstream().stream_info("T")
        assert info.state.messages == 1
        await nc.close()
    finally:
        server.cleanup()


async def test_fresh_database_is_created_and_dropped(postgres_url: str) -> None:
    async with fresh_database(postgres_url) as url:
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT current_database()") == url.rsplit("/", 1)[1]
        await conn.close()
    conn = await asyncpg.connect(postgres_url)
    names = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", url.rsplit("/", 1)[1])
    await conn.close()
    assert names == 0


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_ports_come_from_below_the_ephemeral_range_and_never_twice() -> None:
    """An outgoing connection takes its port from the ephemeral range: a port handed out there can be taken
    between the check and the server's bind."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(port < low for port in ports)


async def test_the_pgserver_wheels_binaries_serve_when_the_system_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPRINTBOARD_POSTGRES_BIN", "pgserver")
    server = EmbeddedPostgres()
    assert "pgserver" in str(server.bin)
    server.start()
    try:
        conn = await asyncpg.connect(server.url)
        assert await conn.fetchval("SELECT 1 + 1") == 2
        await conn.close()
    finally:
        server.cleanup()
