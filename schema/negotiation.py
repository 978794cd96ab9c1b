"""The shapes of GraphQL over HTTP on the wire: the request's parameters (POST body or
GET URL), the response media type chosen from Accept, and the one GraphQL-shaped error
body every refusal uses (`refusal`).

Whatever a client sends, reading it raises RequestFailed or returns parameters of the
right types: a body that is not JSON, JSON nested deeper than the parser goes, a batch
or a parameter of the wrong type is a 400 BAD_REQUEST, a POST of another media type a
415.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.responses import Response
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.parse_content_type import parse_content_type

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

BAD_REQUEST = "BAD_REQUEST"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

# The HTTP status of an error answered without execution, by its code (others: 400).
STATUS_BY_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    SERVICE_UNAVAILABLE: 503,
}


class RequestFailed(Exception):
    """The request cannot be executed. `status` is its HTTP status, except that a
    well-formed request answered as application/json gets 200, as the spec asks."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = BAD_REQUEST,
        *,
        well_formed: bool = False,
        headers: Mapping[str, str] | None = None,
        persisted_query: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.well_formed = well_formed
        self.headers = dict(headers or {})
        self.persisted_query = persisted_query  # the outcome for metrics, if one applies


@dataclass(frozen=True, slots=True)
class Parameters:
    """A request's GraphQL parameters, of the types the specification gives them."""

    query: str | None
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


async def read_parameters(request: AsyncHTTPRequestAdapter) -> Parameters:
    """The parameters of a GET's URL or a POST's JSON body. Raises RequestFailed."""
    raw = await _raw_parameters(request)
    query, operation_name = raw.get("query"), raw.get("operationName")
    variables, extensions = raw.get("variables"), raw.get("extensions")
    if query is not None and not isinstance(query, str):
        raise RequestFailed(400, "`query` must be a string")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestFailed(400, "`operationName` must be a string or null")
    if variables is not None and not isinstance(variables, dict):
        raise RequestFailed(400, "`variables` must be an object or null")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestFailed(400, "`extensions` must be an object or null")
    return Parameters(query, operation_name or None, variables, extensions)


async def _raw_parameters(request: AsyncHTTPRequestAdapter) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = {}
        for name, value in request.query_params.items():
            if name in ("variables", "extensions") and isinstance(value, str) and value:
                params[name] = _json(value, f"`{name}` is not valid JSON")
            else:
                params[name] = value or None
        return params
    content_type = _media_type(request.content_type or "")
    if content_type != JSON:
        raise RequestFailed(
            415,
            "POST bodies must be application/json",
            "UNSUPPORTED_MEDIA_TYPE",
            headers={"Accept-Post": JSON},
        )
    body = await request.get_body()
    if not body.strip():
        raise RequestFailed(400, "The request has no body")
    data = _json(body, "The body is not valid JSON")
    if not isinstance(data, dict):
        raise RequestFailed(400, "The body must be a JSON object; batches are not accepted")
    return data


@lru_cache(maxsize=64)
def _media_type(header: str) -> str:
    """The media type of a Content-Type header. Parsed through the email package, which
    takes some 20 microseconds; clients send the same few headers."""
    media_type, _ = parse_content_type(header)
    return media_type


def _json(text: str | bytes, message: str) -> Any:
    # The standard library's parser, not orjson: orjson refuses lone surrogates, which
    # must reach the resolvers to be answered INVALID_VALUE. It raises RecursionError,
    # not ValueError, for arrays or objects nested deeper than Python's recursion limit.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RequestFailed(400, message) from None


def request_header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of a request header, by its name in lower case (as ASGI servers
    give names); None when absent. Starlette's `headers.get` finds an absent header by
    catching a KeyError, which costs more than the look-up."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


@lru_cache(maxsize=64)  # clients send the same few Accept headers again and again
def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header: GRAPHQL_RESPONSE_JSON when the
    client prefers it (ties go to it), else JSON (also for wildcards and no header);
    None when the header admits neither."""
    if accept is None or not accept.strip():
        return JSON
    best: str | None = None
    best_q = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = GRAPHQL_RESPONSE_JSON
        elif media in (JSON, "application/*", "*/*"):
            candidate = JSON
        else:
            continue
        q = _quality(params)
        if q > best_q or (q == best_q and q > 0 and candidate == GRAPHQL_RESPONSE_JSON):
            best, best_q = candidate, q
    return best


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def wants_html(accept: str | None) -> bool:
    return accept is not None and "text/html" in accept.lower()


def is_request_error(response: GraphQLHTTPResponse) -> bool:
    """No execution started: errors, and none of them located in the result."""
    errors = response.get("errors")
    return (
        response.get("data") is None
        and bool(errors)
        and all(isinstance(error, dict) and "path" not in error for error in errors or ())
    )


def request_error_status(codes: list[str]) -> int:
    statuses = [STATUS_BY_CODE[code] for code in codes if code in STATUS_BY_CODE]
    return max(statuses, default=400)


def error_codes(response: GraphQLHTTPResponse) -> list[str]:
    codes: list[str] = []
    for error in response.get("errors") or ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else "UNKNOWN")
    return codes


def encode_body(data: object) -> bytes:
    """JSON for an HTTP response body, with orjson (several times faster on large
    responses than the standard library)."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        # orjson refuses lone surrogates, which an error message may echo from the input.
        return json.dumps(data).encode()


def refusal(
    error: GraphQLError,
    *,
    status: int | None = None,
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to a request that is not executed: `error` alone, in the GraphQL
    response shape. The status defaults to that of the error's code (STATUS_BY_CODE,
    else 400)."""
    extensions = dict(error.extensions or {})
    code = extensions.get("code")
    return Response(
        encode_body({"errors": [{"message": error.message, "extensions": extensions}]}),
        status_code=status or request_error_status([code] if isinstance(code, str) else []),
        media_type=f"{media_type}; charset=utf-8",
        headers=dict(headers or {}),
    )
