"""NATS as the distributed engine: nats-servers clustered by routes, the task stream replicated on them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import nats
from nats.js.api import StreamInfo

from sprintboard_devstack.servers import EmbeddedNats, ServerError, free_port
from sprintboard_kit.stream import StreamSettings, ensure_stream


class NatsCluster:
    """`size` nats-servers clustered by routes, JetStream on each (own store, own server name `node-<n>`);
    a cluster of one is a plain server (JetStream refuses to run clustered on a single node).

    Start it from the thread that keeps running: a server dies with the thread that started it
    (PR_SET_PDEATHSIG)."""

    def __init__(self, size: int = 3, name: str = "sprintboard") -> None:
        self.size, self.name = size, name
        self.nodes = self._nodes()

    def _nodes(self) -> list[EmbeddedNats]:
        if self.size == 1:
            return [EmbeddedNats(name="node-0")]
        routes = [free_port() for _ in range(self.size)]
        return [
            EmbeddedNats(
                name=f"node-{n}",
                extra_args=[
                    "--cluster_name",
                    self.name,
                    "--cluster",
                    f"nats://127.0.0.1:{routes[n]}",
                    "--routes",
                    ",".join(f"nats://127.0.0.1:{port}" for port in routes),
                ],
            )
            for n in range(self.size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node, comma-separated, as `NATS_URL` takes a cluster: the clients fail over."""
        return ",".join(self.urls)

    def start(self, attempts: int = 3) -> NatsCluster:
        """Start every node; when one finds a port taken (chosen free, then bound by someone else before the
        node bound it), start the whole cluster again on fresh ports: the routes name every node's port."""
        for attempt in range(1, attempts + 1):
            try:
                for node in self.nodes:
                    node.start()
                return self
            except ServerError as error:
                self.cleanup()
                if "address already in use" not in str(error) or attempt == attempts:
                    raise
                self.nodes = self._nodes()
            except BaseException:
                self.cleanup()
                raise
        raise AssertionError("unreachable")

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


@contextlib.contextmanager
def nats_cluster(size: int = 3) -> Iterator[NatsCluster]:
    """A started cluster of `size` nodes, stopped and removed on exit."""
    cluster = NatsCluster(size).start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


async def replicated_stream(urls: list[str], replicas: int = 3, timeout: float = 30) -> StreamInfo:
    """Create the task streams with `replicas` replicas once the cluster has a meta leader (a fresh cluster
    refuses stream requests until it elects one); BACKLOG_TASKS's info, with its leader and replicas."""
    nc = await nats.connect(urls, connect_timeout=2)
    try:
        js = nc.jetstream(timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = await ensure_stream(js, StreamSettings(replicas=replicas))
                cluster = info.cluster
                if replicas == 1 and cluster is None:  # a plain server: nothing to elect
                    return info
                if cluster is not None and cluster.leader and len(cluster.replicas or []) == replicas - 1:
                    return info
            except Exception:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stream has no leader and {replicas - 1} replicas in {timeout} s")
            await asyncio.sleep(0.2)
    finally:
        await nc.close()
