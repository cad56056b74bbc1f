"""Prometheus metrics of one app (a registry per app, so tests can run several)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# engine_stats() key -> (metric name, help). Read at scrape time, so they are never stale.
ENGINE_COUNTERS = {
    "runs": ("vlrerank_engine_runs", "batches of requests the engine served (each one or more forwards)"),
    "merged_runs": (
        "vlrerank_engine_merged_runs",
        "engine runs that served more than one request at once: concurrent requests sharing forwards",
    ),
    "merged_requests": ("vlrerank_engine_merged_requests", "requests served in a merged run"),
}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vlrerank_requests_total", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "vlrerank_request_seconds",
            "request latency",
            ["route"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.pairs = Counter("vlrerank_pairs_scored_total", "pairs scored", registry=self.registry)
        self.queue_depth = Gauge(
            "vlrerank_queue_depth", "requests admitted, not finished", registry=self.registry
        )
        self.errors = Counter("vlrerank_errors_total", "errors by type", ["type"], registry=self.registry)
        # By the key's name (never the key); "-" for requests without one. Bounded by the key count.
        self.key_requests = Counter(
            "vlrerank_key_requests_total", "requests by key name", ["key", "status"], registry=self.registry
        )
        self.key_pairs = Counter(
            "vlrerank_key_pairs_total", "pairs scored by API key name", ["key"], registry=self.registry
        )
        self.rejections = Counter(
            "vlrerank_documents_rejected_total",
            "documents left unscored: by the quality gate, or failed even alone",
            ["reason"],
            registry=self.registry,
        )
        self.visual_tokens = Counter(
            "vlrerank_visual_tokens_total", "visual tokens the model saw (queries and documents)",
            registry=self.registry,
        )  # fmt: skip
        stage_buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        self.prepare_seconds = Histogram(
            "vlrerank_prepare_seconds", "per request: decoding, resizing and tokenising (CPU)",
            buckets=stage_buckets, registry=self.registry,
        )  # fmt: skip
        self.model_seconds = Histogram(
            "vlrerank_model_seconds", "per request: vision tower and language model forwards",
            buckets=stage_buckets, registry=self.registry,
        )  # fmt: skip
        self.vision = Gauge(
            "vlrerank_vision_pictures",
            "pictures since the model loaded: 'cache_hit' reused the vision cache, 'computed' ran the tower",
            ["outcome"],
            registry=self.registry,
        )
        self.max_concurrent = Gauge(
            "vlrerank_max_concurrent", "requests admitted into the engine at once", registry=self.registry
        )
        # Set on Ray Serve replicas: which replica's counters a scrape of /metrics saw.
        self.replica = Info("vlrerank_replica", "the Ray Serve replica answering", registry=self.registry)
        self.ignored_fields = Counter(
            "vlrerank_ignored_fields_total",
            "request fields ignored because no dialect defines them (at most 64 names, then 'other')",
            ["field"],
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "vlrerank_quota_refusals_total", "429s by key and quota", ["key", "kind"], registry=self.registry
        )

    def watch_engine(self, stats: Callable[[], dict[str, int] | None]) -> None:
        """Export the engine's counters (``Reranker.engine_stats()``; None while no model is loaded)."""
        self.registry.register(_EngineCounters(stats))


class _EngineCounters(Collector):
    def __init__(self, stats: Callable[[], dict[str, int] | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats() or {}
        for key, (name, documentation) in ENGINE_COUNTERS.items():
            family = CounterMetricFamily(name, documentation)
            family.add_metric([], stats.get(key, 0))
            yield family
