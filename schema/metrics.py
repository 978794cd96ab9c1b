"""Prometheus metrics of the GraphQL endpoint and the database pool, served on GET /metrics.

Metrics are kept per process: with several workers, each scrape reaches one of them, so
run one worker per container (or scrape each) where the totals matter.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)

# Operation names come from clients: only GraphQL names become labels, and only so many,
# so that a client cannot grow the number of time series without bound.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
UNKNOWN = "unknown"  # the request was refused before its operation was known
ANONYMOUS = "anonymous"
OTHER = "other"


class OperationNames:
    """Label values for operation names: the name itself for the first
    MAX_OPERATION_NAMES distinct names, OTHER after that."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def label(self, name: str | None, *, known: bool) -> str:
        if not known:
            return UNKNOWN
        if not name:
            return ANONYMOUS
        if not _NAME.fullmatch(name):
            return OTHER
        if name not in self._seen:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(name)
        return name


class PoolCollector(Collector):
    """Connections of the server's asyncpg pool, read at scrape time."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    def collect(self) -> Iterable[Metric]:
        connections = GaugeMetricFamily(
            "db_pool_connections",
            "Connections of the database pool, by state (in_use: lent to a request)",
            labels=["state"],
        )
        limit = GaugeMetricFamily("db_pool_max_connections", "Size limit of the database pool")
        if self.pool is not None:
            size, idle = self.pool.get_size(), self.pool.get_idle_size()
            connections.add_metric(["in_use"], size - idle)
            connections.add_metric(["idle"], idle)
            limit.add_metric([], self.pool.get_max_size())
        yield connections
        yield limit


class Metrics:
    """The app's metrics, in a registry of their own (one per app, not the global one)."""

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token or None
        self.registry = CollectorRegistry()
        self.names = OperationNames()
        operation = ["operation_name", "operation_type"]
        self.requests = Counter(
            "graphql_requests",
            "GraphQL requests, by operation and HTTP status",
            [*operation, "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "graphql_request_duration_seconds",
            "Time from receiving a GraphQL request to the end of its response",
            operation,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "graphql_errors",
            "Errors in GraphQL responses, by extensions.code",
            ["code"],
            registry=self.registry,
        )
        self.statements = Histogram(
            "graphql_sql_statements",
            "SQL statements one GraphQL request ran (transaction control excepted)",
            operation,
            buckets=STATEMENT_BUCKETS,
            registry=self.registry,
        )
        self.persisted = Counter(
            "graphql_persisted_queries",
            "Requests that named a persisted document, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        # The labelled series of each (operation name, type, status), found once: a
        # lookup by labels takes a lock and builds the label tuple every time. Bounded
        # by the operation names kept (OperationNames) and the statuses answered.
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self.pool = PoolCollector()
        self.registry.register(self.pool)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def observe(
        self,
        *,
        operation_name: str | None,
        operation_type: str | None,
        status: int,
        seconds: float,
        statements: int | None,
        error_codes: Sequence[str],
        persisted_query: str | None,
    ) -> None:
        """Counts one GraphQL request."""
        known = operation_type is not None
        key = (self.names.label(operation_name, known=known), operation_type or UNKNOWN, status)
        series = self._series.get(key)
        if series is None:
            labels = key[:2]
            series = self._series[key] = (
                self.requests.labels(*labels, str(status)),
                self.duration.labels(*labels),
                self.statements.labels(*labels),
            )
        requests, duration, statements_run = series
        requests.inc()
        duration.observe(seconds)
        if statements is not None:
            statements_run.observe(statements)
        for code in error_codes:
            self.errors.labels(code).inc()
        if persisted_query is not None:
            self.persisted.labels(persisted_query).inc()

    async def endpoint(self, request: Request) -> Response:
        """GET /metrics in Prometheus' text format; with a token set, only for
        `Authorization: Bearer <token>`."""
        if self.token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return PlainTextResponse(
                    "A valid bearer token is required",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        self.pool.pool = getattr(request.app.state, "pool", None)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
