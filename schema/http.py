"""The /graphql endpoint: authentication, one database transaction per operation, and
errors that never leak internals."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from resolvers.auth import bearer_token, token_sha256
from resolvers.context import Context
from resolvers.errors import ApiError
from resolvers.session import Session

logger = logging.getLogger("inbox.graphql")

REQUEST_ID_HEADER = "x-request-id"


def _request_id(request: Request | WebSocket) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


def unauthenticated(request_id: str) -> Response:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "A valid `Authorization: Bearer <token>` header is required",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="graphql"', "X-Request-Id": request_id},
    )


def mask(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error a client may see: ours and GraphQL's own as they are, anything else as an
    opaque internal error carrying the request id (and logged with it)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    logger.error(
        "unexpected error in %s (request %s)",
        ".".join(map(str, error.path or [])),
        request_id,
        exc_info=original,
    )
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with a database session and an agent per request."""

    def __init__(self, schema: Any, pool_of: Any, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self._pool_of = pool_of  # request -> asyncpg.Pool (the pool lives in app state)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context | UnsetType = UNSET,
        root_value: UnsetType | None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request)
        adapter = self.request_adapter_class(request)
        if self.should_render_graphql_ide(adapter):
            return await super().run(request)
        request_id = _request_id(request)
        request.state.request_id = request_id
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return unauthenticated(request_id)
        pool: asyncpg.Pool = self._pool_of(request)
        session = Session(pool)
        found = await session.authenticate(token_sha256(token))
        if found is None:
            return unauthenticated(request_id)
        agent, organization = found
        ctx = Context(request, None, session, agent, organization, request_id)
        try:
            response = await super().run(request, ctx, None)
        finally:
            await session.close(commit=False)
        response.headers["X-Request-Id"] = request_id
        response.headers["X-Sql-Statements"] = str(session.statements)
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # HTTP requests arrive with their context from run(); WebSockets are not served yet.
        raise ApiError("This endpoint needs an authenticated HTTP request")

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except BaseException:
            await context.session.close(commit=False)
            raise
        try:
            # Commit before answering: what a response acknowledges is durable.
            await context.session.close(commit=True)
        except Exception:
            logger.exception("commit failed (request %s)", context.request_id)
            return ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "The changes could not be saved; nothing was changed",
                        extensions={
                            "code": "INTERNAL_SERVER_ERROR",
                            "requestId": context.request_id,
                        },
                    )
                ],
            )
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            request_id = getattr(request.state, "request_id", None) or _request_id(request)
            result.errors = [mask(error, request_id) for error in result.errors]
        return process_result(result)
