"""The plain counters and the lag histogram come out of /metrics as Prometheus counters and a histogram."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from sprintboard_notifier.metrics import NotifierMetrics

pytestmark = pytest.mark.unit


def exposition(metrics: NotifierMetrics) -> dict[str, float]:
    samples = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_counters_are_exposed_with_their_totals() -> None:
    metrics = NotifierMetrics()
    metrics.events_in.inc()
    metrics.events_in.inc()
    metrics.frames_out.inc(7)
    metrics.socket_writes.inc(3)
    samples = exposition(metrics)
    assert samples["notifier_events_received_total"] == 2
    assert samples["notifier_frames_sent_total"] == 7
    assert samples["notifier_socket_writes_total"] == 3


def test_the_lag_histogram_counts_each_observation_in_every_bucket_at_or_above_it() -> None:
    metrics = NotifierMetrics()
    for seconds in (0.001, 0.003, 0.05, 99.0):
        metrics.lag.observe(seconds)
    samples = exposition(metrics)
    bucket = 'notifier_delivery_lag_seconds_bucket{le="%s"}'
    assert samples[bucket % "0.001"] == 1  # `le`: a value on a bound belongs to that bound
    assert samples[bucket % "0.0025"] == 1
    assert samples[bucket % "0.005"] == 2
    assert samples[bucket % "0.05"] == 3
    assert samples[bucket % "30.0"] == 3
    assert samples[bucket % "+Inf"] == 4
    assert samples["notifier_delivery_lag_seconds_count"] == 4
    assert samples["notifier_delivery_lag_seconds_sum"] == 99.054
