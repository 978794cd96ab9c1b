"""What every HTTP request leaves behind: a request id (taken from `X-Request-Id` when the
caller sent a usable one, and returned on the response), one structured log line, and for
GraphQL requests Prometheus metrics and, with tracing on, a span.

The GraphQL endpoint fills the request's RequestRecord (operation, error codes, agent);
the log line and metrics are written from it once the response is sent. Refusals that
come before the endpoint knows the operation (401, 413, 429, 500, 503) are read from
their body. `request_id_of` is the one place the rest of the app gets the request id.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema import tracing
from schema.metrics import Metrics
from schema.tracing import Tracing

logger = logging.getLogger("inbox.requests")

REQUEST_ID_HEADER = "x-request-id"
STATEMENTS_HEADER = "x-sql-statements"
# Probes, scrapes and static files are logged at DEBUG: they would drown the requests.
QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/graphiql/static/")
# Refusals are a few hundred bytes; a larger error body is not read for its codes.
_MAX_REFUSAL_BYTES = 16 * 1024


@dataclass(slots=True)
class RequestRecord:
    """What the GraphQL endpoint learnt about a request, for logs, metrics and traces."""

    request_id: str
    graphql: bool = False  # a GraphQL request (the IDE page is not one)
    operation_name: str | None = None
    operation_type: str | None = None  # None: refused before the operation was known
    error_codes: list[str] = field(default_factory=list)
    persisted_query: str | None = None  # hit, miss, registered, manifest, rejected
    agent_id: int | None = None
    organization_id: int | None = None


def record_of(connection: HTTPConnection) -> RequestRecord | None:
    """The request's record, when Observability wraps the app."""
    record = connection.scope.get("state", {}).get("record")
    return record if isinstance(record, RequestRecord) else None


def request_id_of(scope: Scope) -> str:
    """The request's id: the one Observability chose for it; without Observability, one
    chosen now the same way (and kept in the request's headers, so that every later call
    answers the same)."""
    record = scope.get("state", {}).get("record")
    if isinstance(record, RequestRecord):
        return record.request_id
    return _adopt_request_id(scope)


def _usable(value: str | None) -> bool:
    return value is not None and 0 < len(value) <= 64 and value.isascii() and value.isprintable()


class Observability:
    """ASGI middleware; wrap the whole app so that every response carries the id."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        tracing: Tracing | None = None,
        graphql_path: str = "/graphql",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _adopt_request_id(scope)
        record = RequestRecord(request_id, graphql=scope["path"] == self.graphql_path)
        scope.setdefault("state", {})["record"] = record
        outcome: dict[str, Any] = {"status": 500, "statements": None}
        refusal = bytearray()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers["X-Request-Id"] = request_id
                outcome["status"] = message["status"]
                statements = headers.get(STATEMENTS_HEADER, "")
                outcome["statements"] = int(statements) if statements.isdigit() else None
            elif (
                message["type"] == "http.response.body"
                and record.graphql
                and outcome["status"] >= 400
                and not record.error_codes
                and len(refusal) < _MAX_REFUSAL_BYTES
            ):
                refusal.extend(message.get("body", b""))
            await send(message)

        span_scope: AbstractContextManager[Any] = (
            self.tracing.server_span(scope) if self.tracing is not None else nullcontext()
        )
        started = time.perf_counter()
        try:
            with span_scope as span:
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    if refusal and not record.error_codes:
                        record.error_codes = _error_codes(bytes(refusal))
                    if span is not None:
                        tracing.describe(
                            span,
                            status=outcome["status"],
                            operation_name=record.operation_name,
                            operation_type=record.operation_type,
                            error_codes=record.error_codes,
                            statements=outcome["statements"],
                        )
        finally:
            seconds = time.perf_counter() - started
            self._account(scope, record, outcome["status"], outcome["statements"], seconds)

    def _account(
        self,
        scope: Scope,
        record: RequestRecord,
        status: int,
        statements: int | None,
        seconds: float,
    ) -> None:
        if record.graphql:
            self.metrics.observe(
                operation_name=record.operation_name,
                operation_type=record.operation_type,
                status=status,
                seconds=seconds,
                statements=statements,
                error_codes=record.error_codes,
                persisted_query=record.persisted_query,
            )
        path: str = scope["path"]
        quiet = path.startswith(QUIET_PATHS) and not record.graphql
        level = logging.DEBUG if quiet else logging.INFO
        if not logger.isEnabledFor(level):
            return
        fields: dict[str, object] = {
            "request_id": record.request_id,
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        if record.graphql:
            fields.update(
                operation_name=record.operation_name,
                operation_type=record.operation_type,
                sql_statements=statements,
                error_codes=record.error_codes or None,
                persisted_query=record.persisted_query,
                agent_id=record.agent_id,
                organization_id=record.organization_id,
            )
        logger.log(
            level,
            "%s %s %s",
            scope["method"],
            path,
            status,
            extra=fields,
        )


def _error_codes(body: bytes) -> list[str]:
    """The codes of a GraphQL-shaped error body; none for anything else."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        return []
    if not isinstance(errors, list):
        return []
    return [
        code
        for error in errors
        if isinstance(error, dict)
        and isinstance(code := (error.get("extensions") or {}).get("code"), str)
    ]


def _adopt_request_id(scope: Scope) -> str:
    """The caller's request id if usable, else a new one; either way it is the one the
    app sees in its `X-Request-Id` header."""
    headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
    given = next(
        (value for key, value in headers if key == REQUEST_ID_HEADER.encode()),
        None,
    )
    text = given.decode("latin-1") if given is not None else None
    if text is not None and _usable(text):
        return text
    request_id = uuid.uuid4().hex
    scope["headers"] = [
        (key, value) for key, value in headers if key != REQUEST_ID_HEADER.encode()
    ] + [(REQUEST_ID_HEADER.encode(), request_id.encode())]
    return request_id
