"""The /graphql endpoint: body size, authentication, rate limits, one database transaction
per operation, and errors that never leak internals.

Every refusal is JSON in the GraphQL response shape, with `extensions.code`
(schema/negotiation.py: `refusal`). A request is checked from the cheapest test to the
dearest: body size and token syntax, then, all without SQL, the token's budget (429), a
token that failed lately (401) and its address's budget of failed authentications (429);
then the token is looked up, with a bounded wait for a database connection (503); only
then is the document parsed, measured and run. An exception nothing else caught becomes
a JSON 500 carrying the request id (InternalErrors).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.types import ExecutionResult

from db.agents import Agent
from db.organizations import Organization
from resolvers.auth import bearer_token, token_sha256
from resolvers.context import Context
from resolvers.errors import ApiError, QueryTooComplex, RateLimited, Unauthenticated
from resolvers.ratelimit import Attempt, AuthenticationGuard, RateLimiter, Verdict, address_key
from resolvers.session import Session
from schema.negotiation import SERVICE_UNAVAILABLE, refusal
from schema.observability import request_id_of
from schema.transport import GraphQLView

logger = logging.getLogger("inbox.graphql")

# A query, its variables and a 2,000-character note body escaped character by character
# (\uXXXX pairs) fits several times over; nothing legitimate comes near it.
MAX_BODY_BYTES = 128 * 1024
# Everything a client may read of a cross-origin response beyond the safelisted headers.
EXPOSED_HEADERS = ("X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining")
# A request waits this long (seconds) for a database connection before it is answered 503:
# a pool that stays busy that long is overloaded, and waiting longer only piles up work.
DEFAULT_ACQUIRE_TIMEOUT = 5.0
ACQUIRE_TIMEOUT_ENV = "DATABASE_ACQUIRE_TIMEOUT"
# Failed authentications a client address may have a minute (one a second, in bursts of
# up to 60): far above a person mistyping a token, far below guessing at scale.
DEFAULT_AUTH_FAILURES_PER_MINUTE = 60
AUTH_FAILURES_ENV = "AUTH_FAILURES_PER_MINUTE"
# What getting a connection raises when the database cannot give one (TimeoutError, a
# refused or broken connection, are OSErrors).
_NO_CONNECTION = (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)
INTERNAL_ERROR_MESSAGE = "Internal server error"


def parse_origins(value: str) -> tuple[str, ...]:
    """The origins of a comma-separated list, written as browsers send them ("*" for any).
    Raises ValueError for an entry that is not an origin."""
    return tuple(
        sorted(normalize_allowed_origins([o.strip() for o in value.split(",") if o.strip()]))
    )


def authentication_guard(
    environ: Mapping[str, str], *, clock: Callable[[], float] = time.monotonic
) -> AuthenticationGuard | None:
    """The guard of AUTH_FAILURES_PER_MINUTE (default 60; 0: none). Raises ValueError."""
    raw = environ.get(AUTH_FAILURES_ENV, "").strip()
    try:
        per_minute = int(raw) if raw else DEFAULT_AUTH_FAILURES_PER_MINUTE
    except ValueError:
        per_minute = -1
    if per_minute < 0:
        raise ValueError(f"{AUTH_FAILURES_ENV} must be a whole number (0: no limit), not {raw!r}")
    return AuthenticationGuard(per_minute, clock=clock) if per_minute else None


def acquire_timeout(environ: Mapping[str, str]) -> float:
    """DATABASE_ACQUIRE_TIMEOUT in seconds (default 5). Raises ValueError."""
    raw = environ.get(ACQUIRE_TIMEOUT_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_ACQUIRE_TIMEOUT
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{ACQUIRE_TIMEOUT_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


def _unauthenticated() -> Response:
    return refusal(
        Unauthenticated("A valid `Authorization: Bearer <token>` header is required"),
        headers={"WWW-Authenticate": 'Bearer realm="graphql"'},
    )


def _rate_limited(limiter: RateLimiter, verdict: Verdict) -> Response:
    seconds = verdict.retry_after_seconds
    return refusal(
        RateLimited(
            f"This token has used its {limiter.budget} requests per {limiter.window:g} "
            f"seconds; retry in {seconds} s",
            retryAfter=seconds,
        ),
        headers={
            "Retry-After": str(seconds),
            "X-RateLimit-Limit": str(limiter.budget),
            "X-RateLimit-Remaining": "0",
        },
    )


def _too_many_failures(guard: AuthenticationGuard, verdict: Verdict) -> Response:
    seconds = verdict.retry_after_seconds
    return refusal(
        RateLimited(
            f"Too many failed authentications from this address (at most "
            f"{guard.limiter.budget} a minute); retry in {seconds} s",
            retryAfter=seconds,
        ),
        headers={"Retry-After": str(seconds)},
    )


def _unavailable() -> Response:
    return refusal(
        GraphQLError(
            "No database connection is free; retry in a moment",
            extensions={"code": SERVICE_UNAVAILABLE},
        ),
        headers={"Retry-After": "1"},
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
        INTERNAL_ERROR_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class _WatchedSend:
    """A send that notes whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


class InternalErrors:
    """Answers an exception that escaped the app, before its response started, with a
    JSON 500 carrying the request id, and logs the exception with that id. (Once the
    response has started nothing can be said to the client: the exception goes on.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = _WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if watched.started:
                raise
            request_id = request_id_of(scope)
            logger.error("unexpected error (request %s)", request_id, exc_info=error)
            response = refusal(ApiError(INTERNAL_ERROR_MESSAGE, requestId=request_id))
            await response(scope, receive, send)


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
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        watched = _WatchedSend(send)
        try:
            await self.app(scope, limited_receive, watched)
        except BodyTooLarge:
            if watched.started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = refusal(
            QueryTooComplex(
                f"The request body is larger than {self.max_bytes} bytes",
                limit="bodyBytes",
                maximum=self.max_bytes,
            ),
            status=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _PoolWithDeadline:
    """A pool as Session uses it, except that acquiring a connection waits at most
    `timeout` seconds (then raises TimeoutError).

    The deadline is the request task's own (asyncio.timeout): asyncpg's `timeout=` runs
    the acquisition in a task of its own, one more task and pass of the event loop for
    every request."""

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def acquire(self) -> PoolConnectionProxy[Any]:
        async with asyncio.timeout(self._timeout):
            return await self._pool.acquire()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class GraphQLApp(GraphQLView):
    """The /graphql endpoint (an ASGI app): GraphiQL for a browser, else a GraphQL
    request served in a database session of its authenticated agent."""

    def __init__(
        self,
        schema: Any,
        pool_of: Any,
        *,
        rate_limiter: RateLimiter | None = None,
        guard: AuthenticationGuard | None = None,
        acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self._pool_of = pool_of  # request -> asyncpg.Pool (the pool lives in app state)
        self._rate_limiter = rate_limiter
        self._guard = guard
        self._acquire_timeout = acquire_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = self.ide_page(request)
        if response is None:
            response = await self._answer(request, request_id_of(scope))
        await response(scope, receive, send)

    async def _answer(self, request: Request, request_id: str) -> Response:
        # The whole body first, so BodySizeLimit refuses an oversized one before any work.
        await request.body()
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return _unauthenticated()
        key = token_sha256(token)
        limiter = self._rate_limiter
        if limiter is not None:
            # A token over its budget is refused without touching the database.
            verdict = limiter.check(key)
            if not verdict.allowed:
                return _rate_limited(limiter, verdict)
        # Session takes a pool; it only acquires and releases connections.
        pool = _PoolWithDeadline(self._pool_of(request), self._acquire_timeout)
        session = Session(cast(asyncpg.Pool, pool))
        found = await self._authenticate(request, session, key, request_id)
        if isinstance(found, Response):
            return found
        try:
            if limiter is not None:
                # Only known tokens are counted, so unknown ones cannot fill the memory.
                verdict = limiter.take(key)
                if not verdict.allowed:
                    return _rate_limited(limiter, verdict)
            agent, organization = found
            ctx = Context(request, None, session, agent, organization, request_id)
            try:
                response = await self.serve(request, ctx)
            finally:
                ctx.loaders.close()
        finally:
            await session.close(commit=False)
        response.headers["X-Sql-Statements"] = str(session.statements)
        if limiter is not None:
            response.headers["X-RateLimit-Limit"] = str(limiter.budget)
            response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        return response

    async def _authenticate(
        self, request: Request, session: Session, key: bytes, request_id: str
    ) -> tuple[Agent, Organization] | Response:
        """The token's agent, with the session's transaction open; else the refusal."""
        guard = self._guard
        attempt: Attempt | None = None
        if guard is not None:
            if guard.failed_recently(key):
                return _unauthenticated()
            client = request.client.host if request.client is not None else None
            attempt = guard.attempt(address_key(client), key)
            if attempt.refused is not None:
                return _too_many_failures(guard, attempt.refused)
        try:
            found = await session.authenticate(key)
        except _NO_CONNECTION as error:
            self._settle(attempt, None)
            logger.warning(
                "no database connection for request %s: %s", request_id, type(error).__name__
            )
            return _unavailable()
        except BaseException:
            self._settle(attempt, None)
            raise
        self._settle(attempt, found is not None)
        return _unauthenticated() if found is None else found

    def _settle(self, attempt: Attempt | None, authenticated: bool | None) -> None:
        if attempt is not None and self._guard is not None:
            self._guard.settle(attempt, authenticated=authenticated)

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
            request_id = request_id_of(request.scope)
            result.errors = [mask(error, request_id) for error in result.errors]
        return process_result(result)
