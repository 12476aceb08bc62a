"""Prometheus metrics: requests, latency and server errors by route (observed by
`logs.RequestLog` as each request ends), and the index's size and version, read when
`GET /metrics` is scraped.

Each app has its own CollectorRegistry, so several apps in one process (the tests) never
share or collide over a metric.
"""

from __future__ import annotations

import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

from citeqa.index.base import IndexStats
from citeqa.service.http.middleware.logs import DISCONNECTED

# The methods the API serves; anything else is counted as "other", so junk requests cannot
# grow the number of series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "citeqa_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citeqa_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.server_errors = Counter(
            "citeqa_http_server_errors",
            "Responses with a 5xx status, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.documents = Gauge(
            "citeqa_index_documents", "Documents in the index served.", registry=self.registry
        )
        self.chunks = Gauge(
            "citeqa_index_chunks", "Chunks in the index served.", registry=self.registry
        )
        self.version = Gauge(
            "citeqa_index_version",
            "Number of the index version served (v000007 is 7); 0 before the first save.",
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 500 and status != DISCONNECTED:
            self.server_errors.labels(route).inc()

    def scrape(self, stats: IndexStats | None) -> Response:
        """The metrics in Prometheus' text format, with the index gauges set from `stats`
        (left as they were when it is None)."""
        if stats is not None:
            self.documents.set(stats.documents)
            self.chunks.set(stats.chunks)
            self.version.set(version_number(stats.version))
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def version_number(version: str | None) -> int:
    """The number in a version name: v000007 is 7; 0 for no version yet."""
    digits = re.sub(r"\D", "", version or "")
    return int(digits) if digits else 0
