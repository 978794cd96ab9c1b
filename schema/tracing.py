"""Optional OpenTelemetry tracing (the `otel` extra), off unless TRACING=opentelemetry.

One server span per HTTP request, continuing the caller's trace (W3C `traceparent`),
named after the GraphQL operation (`query ContactPanel`) once it is known; with
TRACING_FIELD_SPANS=true also one span per resolved field that has a resolver of its own
(every field of every item in a list: for debugging, not for production). Spans never
carry the document, variables or results. The exporter follows OpenTelemetry's own
variables: OTEL_TRACES_EXPORTER (otlp, console or none), OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_SERVICE_NAME.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing.utils import should_skip_tracing

if TYPE_CHECKING:
    import strawberry
    from graphql import GraphQLResolveInfo
    from opentelemetry.trace import Span, Tracer
    from starlette.types import Scope

TRACING_ENV = "TRACING"
FIELD_SPANS_ENV = "TRACING_FIELD_SPANS"
_ON = ("opentelemetry", "otel")
_OFF = ("", "off", "none", "false", "0")
_TRUE = ("1", "true", "yes", "on")
SERVICE_NAME = "inbox-contacts-api"


class TracingUnavailable(RuntimeError):
    """Tracing is asked for but cannot be set up; the message says what to install."""


class Tracing:
    def __init__(self, tracer: Tracer, *, field_spans: bool = False) -> None:
        self.tracer = tracer
        self.field_spans = field_spans

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Tracing | None:
        """None unless TRACING=opentelemetry. Raises TracingUnavailable when the
        OpenTelemetry packages are missing, and ValueError for an unknown setting."""
        setting = environ.get(TRACING_ENV, "").strip().lower()
        if setting in _OFF:
            return None
        if setting not in _ON:
            raise ValueError(f"{TRACING_ENV} must be 'opentelemetry' or 'off', not {setting!r}")
        field_spans = environ.get(FIELD_SPANS_ENV, "").strip().lower() in _TRUE
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError as exc:
            raise TracingUnavailable(
                f"{TRACING_ENV}={setting} needs the OpenTelemetry packages: "
                "pip install -e '.[otel]'"
            ) from exc
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME}
            )
        )
        _add_exporter(provider, environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower())
        return cls(provider.get_tracer("inbox"), field_spans=field_spans)

    @contextmanager
    def server_span(self, scope: Scope) -> Iterator[Span]:
        """The span of one HTTP request, a child of the caller's span if it sent one."""
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        carrier = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method, path = scope["method"], scope["path"]
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            context=extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            yield span

    def instrument(self, schema: strawberry.Schema) -> strawberry.Schema:
        """The schema itself, or with field spans a copy that also runs FieldSpans (the
        shared schema is left as it is)."""
        if not self.field_spans:
            return schema
        instrumented = copy.copy(schema)
        tracing = self

        class BoundFieldSpans(FieldSpans):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(tracing.tracer, **kwargs)

        instrumented.extensions = (*schema.extensions, BoundFieldSpans)
        return instrumented


def describe(
    span: Span,
    *,
    status: int,
    operation_name: str | None,
    operation_type: str | None,
    error_codes: list[str],
    statements: int | None,
) -> None:
    """Names a finished request's span after its operation and records the outcome."""
    span.set_attribute("http.response.status_code", status)
    if operation_type is not None:
        span.update_name(f"{operation_type} {operation_name}" if operation_name else operation_type)
        span.set_attribute("graphql.operation.type", operation_type)
        if operation_name:
            span.set_attribute("graphql.operation.name", operation_name)
    if error_codes:
        span.set_attribute("graphql.error.codes", error_codes)
    if statements is not None:
        span.set_attribute("db.statements", statements)
    if status >= 500:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR))


class FieldSpans(SchemaExtension):
    """A span per field resolved by a resolver of its own (not plain attributes)."""

    def __init__(self, tracer: Tracer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracer = tracer

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if should_skip_tracing(_next, info):
            return _next(root, info, *args, **kwargs)
        name = f"{info.parent_type.name}.{info.field_name}"
        span = self.tracer.start_span(name, attributes={"graphql.field.path": _path(info)})
        try:
            result = _next(root, info, *args, **kwargs)
        except BaseException as error:
            span.record_exception(error)
            span.end()
            raise
        if not isawaitable(result):
            span.end()
            return result

        async def finish() -> Any:
            try:
                return await result
            except BaseException as error:
                span.record_exception(error)
                raise
            finally:
                span.end()

        return finish()


def _path(info: GraphQLResolveInfo[Any]) -> str:
    return ".".join(str(key) for key in info.path.as_list())


def _add_exporter(provider: Any, exporter: str) -> None:
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    chosen: SpanExporter
    if exporter == "none":
        return
    if exporter == "console":
        chosen = ConsoleSpanExporter()
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TracingUnavailable(
                "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip install -e '.[otel]'"
            ) from exc
        chosen = OTLPSpanExporter()
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER must be otlp, console or none, not {exporter!r}")
    provider.add_span_processor(BatchSpanProcessor(chosen))
