"""The /graphql endpoint: body size, authentication, rate limit, one database transaction
per operation, and errors that never leak internals.

Every refusal is JSON in the GraphQL response shape, with `extensions.code`, and every
answer carries the request's X-Request-Id. A request is checked from the cheapest test
to the dearest: body size, token syntax, rate limit (all without SQL), then the token in
the database; only then is the document parsed, measured and run.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from resolvers.auth import bearer_token, token_sha256
from resolvers.context import Context
from resolvers.errors import ApiError
from resolvers.ratelimit import RateLimiter, Verdict
from resolvers.session import Session
from schema.transport import GraphQLView

logger = logging.getLogger("inbox.graphql")

REQUEST_ID_HEADER = "x-request-id"
# A query, its variables and a 2,000-character note body escaped character by character
# (\uXXXX pairs) fits several times over; nothing legitimate comes near it.
MAX_BODY_BYTES = 128 * 1024
# Everything a client may read of a cross-origin response beyond the safelisted headers.
EXPOSED_HEADERS = ("X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining")


def parse_origins(value: str) -> tuple[str, ...]:
    """The origins of a comma-separated list, written as browsers send them ("*" for any).
    Raises ValueError for an entry that is not an origin."""
    return tuple(
        sorted(normalize_allowed_origins([o.strip() for o in value.split(",") if o.strip()]))
    )


def _request_id(headers: Headers) -> str:
    given = headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


def error_response(
    status: int,
    message: str,
    code: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A refusal before any GraphQL execution, in the GraphQL response shape."""
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code=status,
        headers=headers,
    )


def unauthenticated() -> Response:
    return error_response(
        401,
        "A valid `Authorization: Bearer <token>` header is required",
        "UNAUTHENTICATED",
        headers={"WWW-Authenticate": 'Bearer realm="graphql"'},
    )


def rate_limited(limiter: RateLimiter, verdict: Verdict) -> Response:
    seconds = verdict.retry_after_seconds
    return error_response(
        429,
        f"This token has used its {limiter.budget} requests per {limiter.window:g} seconds; "
        f"retry in {seconds} s",
        "RATE_LIMITED",
        headers={
            "Retry-After": str(seconds),
            "X-RateLimit-Limit": str(limiter.budget),
            "X-RateLimit-Remaining": "0",
        },
        retryAfter=seconds,
    )


def mask(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error a client may see: ours and GraphQL's own as they are, anything else as an
    opaque internal error carrying the request id (and logged with it)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    logger.error(
        "unexpected error in %s (request %s)",
        ".".join(map(str, error.path or [])) or "the operation",
        request_id,
        exc_info=original,
    )
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class BodyTooLarge(Exception):
    """Raised while reading a request body past the limit."""


class BodySizeLimit:
    """Answers 413 to a request whose body is larger than `max_bytes`: at once when its
    Content-Length says so, else as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(headers, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(headers, scope, receive, send)

    async def _refuse(self, headers: Headers, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"The request body is larger than {self.max_bytes} bytes",
            "QUERY_TOO_COMPLEX",
            headers={"X-Request-Id": _request_id(headers), "Connection": "close"},
            limit="bodyBytes",
            maximum=self.max_bytes,
        )
        await response(scope, receive, send)


class GraphQLApp(GraphQLView):
    """Strawberry's ASGI app with a database session and an agent per request."""

    def __init__(
        self,
        schema: Any,
        pool_of: Any,
        *,
        rate_limiter: RateLimiter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self._pool_of = pool_of  # request -> asyncpg.Pool (the pool lives in app state)
        self._rate_limiter = rate_limiter

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
        request_id = _request_id(request.headers)
        request.state.request_id = request_id
        response = await self._answer(request, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    async def _answer(self, request: Request, request_id: str) -> Response:
        # The whole body first, so BodySizeLimit refuses an oversized one before any work.
        await request.body()
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return unauthenticated()
        key = token_sha256(token)
        limiter = self._rate_limiter
        if limiter is not None:
            # A token over its budget is refused without touching the database.
            verdict = limiter.check(key)
            if not verdict.allowed:
                return rate_limited(limiter, verdict)
        pool: asyncpg.Pool = self._pool_of(request)
        session = Session(pool)
        found = await session.authenticate(key)
        if found is None:
            return unauthenticated()
        try:
            if limiter is not None:
                # Only known tokens are counted, so unknown ones cannot fill the memory.
                verdict = limiter.take(key)
                if not verdict.allowed:
                    return rate_limited(limiter, verdict)
            agent, organization = found
            ctx = Context(request, None, session, agent, organization, request_id)
            response = await super().run(request, ctx, None)
        finally:
            await session.close(commit=False)
        response.headers["X-Sql-Statements"] = str(session.statements)
        if limiter is not None:
            response.headers["X-RateLimit-Limit"] = str(limiter.budget)
            response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
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
            request_id = getattr(request.state, "request_id", None) or _request_id(request.headers)
            result.errors = [mask(error, request_id) for error in result.errors]
        return process_result(result)
