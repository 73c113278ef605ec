"""Presence metrics: the tracker's plain numbers, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sprintboard_notifier.presence.tracker import Presence


class PresenceCollector(Collector):
    def __init__(self, presence: Presence[Any]) -> None:
        self._presence = presence

    def collect(self) -> Iterator[Metric]:
        p = self._presence
        yield GaugeMetricFamily(
            "notifier_presence_sprints", "Sprints whose presence this instance follows", value=p.sprints
        )
        yield GaugeMetricFamily(
            "notifier_presence_instances",
            "Other notifier instances this one hears as live",
            value=p.instances,
        )
        for name, doc, value in (
            (
                "notifier_presence_diffs",
                "presence_diff frames built (one per sprint and flush)",
                p.stats.diffs,
            ),
            (
                "notifier_presence_frames",
                "presence and presence_diff frames handed to sockets",
                p.stats.frames,
            ),
            ("notifier_presence_writes", "Presence key writes and deletes sent to NATS", p.stats.writes),
            ("notifier_presence_updates", "Other instances' presence key changes received", p.stats.updates),
            (
                "notifier_presence_heartbeats",
                "Heartbeats this instance put into the instances bucket",
                p.heartbeats,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)
