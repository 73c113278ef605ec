"""The embedded NATS cluster forms, replicates the task stream on every node, and is removed on exit."""

from __future__ import annotations

from sprintboard_devstack.cluster import nats_cluster, replicated_stream


async def test_the_cluster_replicates_the_task_stream_on_all_three_nodes() -> None:
    with nats_cluster(3) as cluster:
        assert cluster.url == ",".join(cluster.urls) and len(set(cluster.urls)) == 3
        info = await replicated_stream(cluster.urls)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        names = {info.cluster.leader, *(r.name for r in info.cluster.replicas or [])}
        assert names == {node.name for node in cluster.nodes}
    assert not any(node.root.exists() for node in cluster.nodes)
