"""The embedded NATS cluster forms, replicates the task stream on every node, and is removed on exit."""

from __future__ import annotations

from sprintboard_devstack.cluster import NatsCluster, nats_cluster, replicated_stream


async def test_the_cluster_replicates_the_task_stream_on_all_three_nodes() -> None:
    with nats_cluster(3) as cluster:
        assert cluster.url == ",".join(cluster.urls) and len(set(cluster.urls)) == 3
        info = await replicated_stream(cluster.urls)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        names = {info.cluster.leader, *(r.name for r in info.cluster.replicas or [])}
        assert names == {node.name for node in cluster.nodes}
    assert not any(node.root.exists() for node in cluster.nodes)


async def test_a_route_port_taken_before_its_node_binds_it_restarts_the_cluster_on_fresh_ports() -> None:
    import socket

    cluster = NatsCluster(3)
    taken = int(cluster.nodes[1].extra_args[3].rsplit(":", 1)[1])  # node-1's --cluster address
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        cluster.start()
        try:
            routes = {int(node.extra_args[3].rsplit(":", 1)[1]) for node in cluster.nodes}
            assert taken not in routes and len(routes) == 3
            info = await replicated_stream(cluster.urls)
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2
        finally:
            cluster.cleanup()
