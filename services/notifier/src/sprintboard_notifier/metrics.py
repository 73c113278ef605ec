"""Prometheus metrics of one notifier instance, in its own registry so several apps can share a process."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Tally:
    """A counter that is a plain int. What is counted per event or per write is counted on the event
    loop's one thread: prometheus_client's lock on every `inc()` showed in the ingest profile."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        self.value += amount


class LagHistogram:
    """The delivery-lag histogram as plain counts per bucket (exposed cumulatively, as Prometheus wants)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1  # first bound >= seconds: `le` semantics
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class _HotPathCollector(Collector):
    """Reads the plain counters at scrape time."""

    def __init__(self, metrics: NotifierMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        for name, doc, tally in (
            ("notifier_events_received", "Valid events read from NATS", m.events_in),
            ("notifier_frames_sent", "WebSocket frames written", m.frames_out),
            (
                "notifier_socket_writes",
                "Writes to task sockets (the frames due at one flush share one write per socket)",
                m.socket_writes,
            ),
            (
                "notifier_socket_bytes_sent",
                "Bytes written to task sockets (whole WebSocket frames)",
                m.bytes_out,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=tally.value)
        yield HistogramMetricFamily(
            "notifier_delivery_lag_seconds",
            "Event timestamp to live frame written to the socket",
            buckets=m.lag.cumulative(),
            sum_value=m.lag.total,
        )


class NotifierMetrics:
    """Counters the consumer, the hub and the writers update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.sockets = Gauge("notifier_sockets_connected", "Authenticated WebSockets open", registry=r)
        self.events_in = Tally()
        self.frames_out = Tally()
        self.socket_writes = Tally()
        self.bytes_out = Tally()
        self.lag = LagHistogram(LAG_BUCKETS)
        r.register(_HotPathCollector(self))
        self.invalid_events = Counter(
            "notifier_invalid_events_total",
            "Messages on the task subjects that broke the contract",
            registry=r,
        )
        self.slow_closes = Counter(
            "notifier_slow_client_closes_total", "Sockets closed with 4008 (send buffer full)", registry=r
        )
        self.replayed = Counter("notifier_replayed_events_total", "Events served from a resume", registry=r)
        self.resyncs = Counter("notifier_resync_required_total", "Resumes answered with resync", registry=r)
        self.follows_every_event = Gauge(
            "notifier_follows_every_event",
            "1 while interest routing reads every event through one consumer (above its tenant limit)",
            registry=r,
        )
        self.followed_tenants = Gauge(
            "notifier_followed_tenants",
            "Tenants whose events this instance follows from NATS (0: it follows every tenant)",
            registry=r,
        )
