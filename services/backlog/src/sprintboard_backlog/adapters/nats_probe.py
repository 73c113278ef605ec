"""NATS readiness: a connection used only to answer `/health/ready`; it never blocks start-up."""

from __future__ import annotations

import nats
from nats.aio.client import Client as NatsClient

from sprintboard_kit.stream import require_server_version


class NatsProbe:
    """Connects on the first check (and keeps reconnecting); a check fails while NATS is away or too old."""

    def __init__(self, servers: list[str]) -> None:
        self._servers = servers
        self._nc: NatsClient | None = None

    async def check(self) -> None:
        if self._nc is None:
            self._nc = await nats.connect(
                self._servers,
                connect_timeout=1,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                name="sprintboard-backlog-probe",
            )
        if not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")
        require_server_version(self._nc)  # after a reconnect, the server may be another one
        await self._nc.flush(timeout=1)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
