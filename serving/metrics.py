"""Prometheus metrics of one app.

With several workers (`circlerank serve --workers N`), PROMETHEUS_MULTIPROC_DIR is set
before they start, every process writes its values there and /metrics aggregates them,
so any worker answers for the whole server.
"""

from __future__ import annotations

import os
from collections import Counter as Counts

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # the *_created series only repeat the process start time

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "circlerank_requests",
            "HTTP requests by route, strategy and status",
            ["route", "strategy", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "circlerank_request_seconds",
            "HTTP request latency by route and strategy",
            ["route", "strategy"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.candidates = Counter(
            "circlerank_candidates",
            "Candidates found, by surface and source",
            ["surface", "source"],
            registry=r,
        )
        self.removed = Counter(
            "circlerank_filter_removed",
            "Candidates removed by filters, by surface and reason",
            ["surface", "reason"],
            registry=r,
        )
        self.stage = Histogram(
            "circlerank_stage_seconds",
            "Ranking time per pipeline stage, per run (see circlerank_run_users)",
            ["surface", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.run_users = Histogram(
            "circlerank_run_users",
            "Users per pipeline run: requests that queued while another ranked run together",
            ["surface"],
            buckets=(1, 2, 3, 4, 6, 8, 12, 16),
            registry=r,
        )
        self.events = Counter(
            "circlerank_events_written",
            "Events durably written to the event log, by origin (served, posted)",
            ["origin"],
            registry=r,
        )
        self.events_dropped = Counter(
            "circlerank_events_dropped",
            "Served impressions dropped: the oldest beyond the 100,000 waiting while the "
            "event log stayed unwritable, or unwritten at shutdown and not spillable",
            registry=r,
        )
        self.events_dead_lettered = Counter(
            "circlerank_events_dead_lettered",
            "Rows the event log refused (e.g. NUL in PostgreSQL text), stored in its "
            "dead_letters table instead, by origin (served, posted)",
            ["origin"],
            registry=r,
        )
        self.impressions_pending = Gauge(
            "circlerank_impressions_pending",
            "Served impressions waiting to be written to the event log",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.fallbacks = Counter(
            "circlerank_fallback_pages",
            "Pages served by the surface's fallback strategy (online store unreachable)",
            ["surface"],
            registry=r,
        )
        self.model = Gauge(
            "circlerank_model_info",
            "The model bundle serving (1 for the current version)",
            ["version"],
            registry=r,
            multiprocess_mode="liveall",
        )

    def set_model(self, old: str | None, new: str) -> None:
        if old is not None and old != new:
            self.model.labels(version=old).set(0)
        self.model.labels(version=new).set(1)

    def dead_lettered(self, origin: str, n: int) -> None:
        self.events_dead_lettered.labels(origin=origin).inc(n)

    def ranked(
        self,
        surface: str,
        candidates: Counts[str],
        removed: Counts[str],
        seconds: dict[str, float],
        users: int = 0,
    ) -> None:
        if users:  # once per pipeline run (0: the request shared another's run)
            self.run_users.labels(surface=surface).observe(users)
        for source, n in candidates.items():
            self.candidates.labels(surface=surface, source=source).inc(n)
        for reason, n in removed.items():
            self.removed.labels(surface=surface, reason=reason).inc(n)
        for stage, s in seconds.items():
            self.stage.labels(surface=surface, stage=stage).observe(s)

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
