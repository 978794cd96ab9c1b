"""GraphQL over HTTP, as its specification (and the graphql-http audit suite) reads it.

- POST with an `application/json` body, or GET with URL parameters; a body or parameter
  of the wrong shape is a 400 with a GraphQL-shaped JSON error, a POST of another media
  type a 415, batches are not accepted (schema/negotiation.py reads them).
- The response is `application/graphql-response+json` when the client prefers it, else
  `application/json` (also for `*/*` or no Accept); 406 when it admits neither.
- Subscriptions are not served (the schema has none yet, and no WebSocket route).
- A request error (the document does not parse or validate, its variables do not fit, no
  operation can be chosen) has no `data` entry and is a 200 under `application/json`, a
  4xx under `application/graphql-response+json`; a mutation over GET is a 405 with
  `Allow: POST`.
- `extensions.persistedQuery` is resolved by resolvers/persisted_queries.py (Apollo's
  APQ, or trusted documents only).
- Browsers asking for HTML on GET get GraphiQL (schema/graphiql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import DocumentNode, GraphQLError, get_operation_ast
from graphql.error import GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult

from resolvers.context import Context
from resolvers.errors import ApiError
from resolvers.persisted_queries import (
    PersistedQueries,
    PersistedQueryNotFound,
    PersistedQueryNotInList,
    PersistedQueryNotSupported,
)
from schema.graphiql import GraphiQL
from schema.limits import PARSE_FAILED, VALIDATION_FAILED, parse_document
from schema.negotiation import (
    BAD_REQUEST,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    RequestFailed,
    encode_body,
    error_codes,
    is_request_error,
    negotiate,
    read_parameters,
    refusal,
    request_error_status,
    request_header,
    wants_html,
)
from schema.observability import RequestRecord, record_of

# Persisted documents: errors a well-formed request can meet (200 under application/json).
_PERSISTED_ERRORS = (PersistedQueryNotFound, PersistedQueryNotSupported, PersistedQueryNotInList)
# What a request's persisted document lookup counts as in metrics (None: not counted).
_OUTCOMES: dict[str, str | None] = {"cache": "hit", "manifest": "manifest", "text": None}


@dataclass
class ParsedRequest(GraphQLRequestData):
    """A request's parameters with the document already parsed (or its syntax error)."""

    document: DocumentNode | GraphQLError | None = None
    persisted_query: str | None = None  # hit, registered or manifest, for metrics


class _SubResponse(Response):
    """Strawberry's per-request response stub, carrying the negotiated media type."""

    def __init__(self, media_type: str, record: RequestRecord | None) -> None:
        super().__init__()
        self.status_code = None  # type: ignore[assignment]
        del self.headers["content-length"]
        self.media_type = media_type
        self.record = record


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with the HTTP rules above. `serve` answers a request whose
    caller is known; `ide_page` the browser's GraphiQL page."""

    def __init__(
        self,
        schema: Any,
        *,
        persisted_queries: PersistedQueries | None = None,
        graphiql: GraphiQL | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self.persisted_queries = persisted_queries or PersistedQueries()
        self.graphiql = graphiql

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and wants_html(request.headers.get("accept"))
        )

    def ide_page(self, request: Request) -> Response | None:
        """GraphiQL for a browser's GET without a query (404 when it is not served);
        None for a GraphQL request."""
        if not self.should_render_graphql_ide(self.request_adapter_class(request)):
            return None
        record = record_of(request)
        if record is not None:
            record.graphql = False
        if self.graphiql is None:
            return PlainTextResponse("Not Found", status_code=404)
        return self.graphiql.page(request)

    async def serve(self, request: Request, context: Context) -> Response:
        """The answer to a GraphQL request of `context`'s agent."""
        record = record_of(request)
        if record is not None:
            record.agent_id = context.agent.id
            record.organization_id = context.organization_id
        media_type = negotiate(request_header(request.scope, b"accept"))
        if media_type is None:
            return self.failure(
                RequestFailed(
                    406,
                    f"Responses are {GRAPHQL_RESPONSE_JSON} or {JSON}; the Accept header "
                    "admits neither",
                    "NOT_ACCEPTABLE",
                ),
                JSON,
                record,
            )
        request.state.graphql_media_type = media_type
        try:
            return await self.run(request, context, None)
        except RequestFailed as failed:
            if record is not None and failed.persisted_query is not None:
                record.persisted_query = failed.persisted_query
            return self.failure(failed, media_type, record)
        except HTTPException as refused:
            headers = {"Allow": "GET, POST"} if refused.status_code == 405 else None
            return self.failure(
                RequestFailed(refused.status_code, refused.reason, headers=headers),
                media_type,
                record,
            )

    async def run(  # type: ignore[override]
        self, request: Request, context: Context, root_value: None = None
    ) -> Response:
        """Strawberry's run() for what this view serves: one GraphQL request over HTTP.
        There is no WebSocket route, the parameters refuse batches and streams
        (schema/negotiation.py), the schema has no subscriptions nor incremental
        delivery, and a browser's IDE page was answered before (ide_page); so none of
        Strawberry's steps for those is taken, a runtime Protocol check of every result
        (some 9 µs) among them."""
        adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        if not self.is_request_allowed(adapter):
            raise HTTPException(405, "GraphQL only supports GET and POST requests.")
        request_data = await self.parse_http_body(adapter)
        result = await self.execute_single(
            request, adapter, sub_response, context, root_value, request_data
        )
        response_data = await self.process_result(request, result)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        media_type = getattr(request.state, "graphql_media_type", JSON)
        return _SubResponse(media_type, record_of(request))

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> ParsedRequest:
        params = await read_parameters(request)
        try:
            lookup = self.persisted_queries.resolve(params.query, params.extensions)
        except _PERSISTED_ERRORS as error:
            raise RequestFailed(
                400,
                error.message,
                _code(error),
                well_formed=True,
                persisted_query="miss" if isinstance(error, PersistedQueryNotFound) else "rejected",
            ) from error
        except ApiError as error:
            raise RequestFailed(
                400, error.message, _code(error), persisted_query="rejected"
            ) from error
        if lookup is None:
            raise RequestFailed(400, "The request has no `query`")
        document = parse_document(lookup.query)
        outcome = _OUTCOMES[lookup.source]
        if lookup.remember is not None and isinstance(document, DocumentNode):
            self.persisted_queries.remember(lookup.remember, lookup.query)
            outcome = "registered"
        return ParsedRequest(
            query=lookup.query,
            variables=params.variables,
            operation_name=params.operation_name,
            extensions=params.extensions,
            document=document,
            persisted_query=outcome,
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        parsed = request_data if isinstance(request_data, ParsedRequest) else None
        document = parsed.document if parsed is not None else None
        record = record_of(request)
        if record is not None and parsed is not None:
            record.persisted_query = parsed.persisted_query
        if isinstance(document, GraphQLError):
            code = (document.extensions or {}).get("code")
            return _request_error(
                GraphQLError(
                    document.message,
                    source=document.source,
                    positions=document.positions,
                    extensions=document.extensions,
                ),
                code if isinstance(code, str) else PARSE_FAILED,
            )
        if document is not None:
            operation = get_operation_ast(document, request_data.operation_name)
            if operation is None:
                message = (
                    f"Unknown operation named '{request_data.operation_name}'"
                    if request_data.operation_name
                    else "Must provide operation name if query contains multiple operations"
                )
                return _request_error(GraphQLError(message), VALIDATION_FAILED)
            kind = operation.operation.value
            if record is not None:
                record.operation_type = kind
                record.operation_name = request_data.operation_name or (
                    operation.name.value if operation.name else None
                )
            if request_adapter.method == "GET" and kind != "query":
                raise RequestFailed(
                    405,
                    f"A {kind} must be sent with POST",
                    "METHOD_NOT_ALLOWED",
                    headers={"Allow": "POST"},
                )
            if kind == "subscription":
                return _request_error(
                    GraphQLError("Subscriptions are not served"),
                    VALIDATION_FAILED,
                )
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if result.errors and result.data is None:
            for error in result.errors:
                if error.path is None and not (error.extensions or {}).get("code"):
                    code = (
                        PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
                    )
                    error.extensions = {**(error.extensions or {}), "code": code}
        return result

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or JSON
        status = 200
        if isinstance(response_data, dict):
            codes = error_codes(response_data)
            if is_request_error(response_data):
                response_data.pop("data", None)
                if media_type == GRAPHQL_RESPONSE_JSON:
                    status = request_error_status(codes)
            record = sub_response.record if isinstance(sub_response, _SubResponse) else None
            if record is not None:
                record.error_codes = codes
        response = Response(
            encode_body(response_data),
            status_code=sub_response.status_code or status,
            media_type=f"{media_type}; charset=utf-8",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.headers.append("Vary", "Accept")
        if sub_response.background:
            response.background = sub_response.background
        return response

    def failure(
        self, failed: RequestFailed, media_type: str, record: RequestRecord | None
    ) -> Response:
        """The response to a request that cannot be executed."""
        if record is not None:
            record.error_codes = [failed.code]
        return refusal(
            GraphQLError(failed.message, extensions={"code": failed.code}),
            status=200 if failed.well_formed and media_type == JSON else failed.status,
            media_type=media_type,
            headers={**failed.headers, "Vary": "Accept"},
        )


def _code(error: ApiError) -> str:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else BAD_REQUEST


def _request_error(error: GraphQLError, code: str) -> ExecutionResult:
    error.extensions = {**(error.extensions or {}), "code": code}
    return ExecutionResult(data=None, errors=[error])
