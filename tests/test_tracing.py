"""Optional OpenTelemetry tracing (schema/tracing.py): off by default, a clear failure
without its packages, one span per request, field spans only when asked."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

import server
from schema.tracing import Tracing, TracingUnavailable
from tests.conftest import Org

PANEL = "query ContactPanel($first: Int!) { contacts(first: $first) { nodes { name } } }"
SECRET = 'query ContactPanel { contacts(search: "secret-search-text") { totalCount } }'
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

Traced = Callable[
    [bool], AbstractAsyncContextManager[tuple[httpx.AsyncClient, InMemorySpanExporter]]
]


def test_tracing_is_off_by_default() -> None:
    assert Tracing.from_env({}) is None
    assert Tracing.from_env({"TRACING": "off"}) is None


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="TRACING must be 'opentelemetry' or 'off'"):
        Tracing.from_env({"TRACING": "zipkin"})


def test_without_the_packages_tracing_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(TracingUnavailable, match=r"pip install -e '\.\[otel\]'"):
        Tracing.from_env({"TRACING": "opentelemetry"})


def test_without_the_otlp_exporter_tracing_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(TracingUnavailable, match="OTLP exporter"):
        Tracing.from_env({"TRACING": "opentelemetry", "OTEL_TRACES_EXPORTER": "otlp"})


def test_the_app_does_not_start_when_tracing_cannot(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACING", "opentelemetry")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(SystemExit, match="needs the OpenTelemetry packages"):
        server.create_app(server.Settings.from_env(database))


@pytest.fixture
def traced(database: str, monkeypatch: pytest.MonkeyPatch) -> Traced:
    """An app with tracing on (spans kept in memory), with or without field spans."""

    @asynccontextmanager
    async def start(
        field_spans: bool,
    ) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
        monkeypatch.setenv("TRACING", "opentelemetry")
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        monkeypatch.setenv("TRACING_FIELD_SPANS", "true" if field_spans else "false")
        application: Starlette = server.create_app(server.Settings.from_env(database))
        [tracing] = [
            found
            for middleware in application.user_middleware
            if isinstance(found := middleware.kwargs.get("tracing"), Tracing)
        ]
        assert tracing.field_spans is field_spans
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracing.tracer = provider.get_tracer("test")
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://traced") as http:
                yield http, exporter

    return start


async def post(http: httpx.AsyncClient, org: Org, query: str, **variables: object) -> None:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {org.agent.token}", "traceparent": TRACEPARENT},
    )
    assert response.status_code == 200
    assert "errors" not in response.json()


def attribute(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


async def test_one_span_per_request_named_after_the_operation(
    demo_org: Org, traced: Traced
) -> None:
    async with traced(False) as (http, exporter):
        await post(http, demo_org, PANEL, first=3)

    [span] = exporter.get_finished_spans()
    assert span.name == "query ContactPanel"
    assert format(span.context.trace_id, "032x") == TRACE_ID  # continues the caller's trace
    assert attribute(span, "graphql.operation.name") == "ContactPanel"
    assert attribute(span, "graphql.operation.type") == "query"
    assert attribute(span, "http.response.status_code") == 200
    statements = attribute(span, "db.statements")
    assert isinstance(statements, int)
    assert statements > 0


async def test_field_spans_only_when_asked(demo_org: Org, traced: Traced) -> None:
    async with traced(True) as (http, exporter):
        await post(http, demo_org, PANEL, first=3)

    spans = exporter.get_finished_spans()
    [request] = [span for span in spans if span.name == "query ContactPanel"]
    fields = [span for span in spans if span is not request]
    assert "Query.contacts" in {span.name for span in fields}
    assert all(span.context.trace_id == request.context.trace_id for span in fields)
    assert all(span.parent is not None for span in fields)


async def test_spans_carry_no_document_or_variables(demo_org: Org, traced: Traced) -> None:
    async with traced(True) as (http, exporter):
        await post(http, demo_org, SECRET)

    spans = exporter.get_finished_spans()
    assert spans
    for span in spans:
        assert "secret-search-text" not in repr(dict(span.attributes or {}))
