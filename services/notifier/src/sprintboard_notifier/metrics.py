"""Prometheus metrics of one notifier instance, in its own registry so several apps can share a process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class NotifierMetrics:
    """Counters the consumer, the hub and the writers update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.sockets = Gauge("notifier_sockets_connected", "Authenticated WebSockets open", registry=r)
        self.events_in = Counter("notifier_events_received_total", "Valid events read from NATS", registry=r)
        self.invalid_events = Counter(
            "notifier_invalid_events_total",
            "Messages on the task subjects that broke the contract",
            registry=r,
        )
        self.frames_out = Counter("notifier_frames_sent_total", "WebSocket frames written", registry=r)
        self.socket_writes = Counter(
            "notifier_socket_writes_total",
            "Writes of frames to task sockets (the frames of one loop turn share one write per socket)",
            registry=r,
        )
        self.slow_closes = Counter(
            "notifier_slow_client_closes_total", "Sockets closed with 4008 (send buffer full)", registry=r
        )
        self.replayed = Counter("notifier_replayed_events_total", "Events served from a resume", registry=r)
        self.resyncs = Counter("notifier_resync_required_total", "Resumes answered with resync", registry=r)
        self.lag = Histogram(
            "notifier_delivery_lag_seconds",
            "Event timestamp to live frame written to the socket",
            buckets=LAG_BUCKETS,
            registry=r,
        )
