"""GraphQL over HTTP (schema/transport.py, schema/negotiation.py): media types, request
shapes and status codes, through the real app."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from schema.negotiation import GRAPHQL_RESPONSE_JSON, JSON, negotiate, request_header
from tests.conftest import Org

VIEWER = "query Viewer { viewer { name } }"
SYNTAX_ERROR = "{ viewer { name }"
UNKNOWN_FIELD = "{ viewer { shoeSize } }"
NEEDS_ID = "query ($id: ID!) { contact(id: $id) { name } }"
TOO_MANY_CONTACTS = "{ contacts(first: 1000) { totalCount } }"
TWO_OPERATIONS = "query A { viewer { name } } query B { viewer { role } }"
SUBSCRIPTION = "subscription { noteAdded }"
FIRST_NOTE = "{ contacts(first: 50) { nodes { notes(first: 1) { nodes { id body version } } } } }"
NOTE_BODY = "query ($id: ID!) { node(id: $id) { ... on Note { body version } } }"
UPDATE_NOTE = """
mutation ($input: UpdateNoteInput!) {
  updateNote(input: $input) { note { body } userErrors { code } }
}
"""


async def post(
    org: Org,
    body: Any,
    *,
    accept: str | None = None,
    content_type: str | None = "application/json",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {org.admin.token}"}
    if accept is not None:
        headers["Accept"] = accept
    if content_type is not None:
        headers["Content-Type"] = content_type
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await org.admin.client.post("/graphql", content=content, headers=headers)


async def get(org: Org, params: dict[str, str], *, accept: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {org.admin.token}"}
    if accept is not None:
        headers["Accept"] = accept
    return await org.admin.client.get("/graphql", params=params, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON},application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};charset=utf-8", GRAPHQL_RESPONSE_JSON),
        (f"text/html, {GRAPHQL_RESPONSE_JSON};q=0", None),
        ("text/html", None),
        ("application/json;q=bogus", None),
    ],
)
def test_negotiation_picks_the_media_type(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_a_request_header_is_its_first_value_or_none() -> None:
    scope = {"headers": [(b"accept", b"text/html"), (b"x-a", b"\xe9"), (b"accept", b"*/*")]}

    assert request_header(scope, b"accept") == "text/html"
    assert request_header(scope, b"x-a") == "\xe9"  # latin-1, as Starlette decodes
    assert request_header(scope, b"authorization") is None


async def test_json_is_the_default(demo_org: Org) -> None:
    response = await post(demo_org, {"query": VIEWER})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["data"] == {"viewer": {"name": "Alex Admin"}}
    assert "Accept" in response.headers["vary"]


async def test_graphql_response_json_when_asked_for(demo_org: Org) -> None:
    response = await post(demo_org, {"query": VIEWER}, accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert response.json()["data"] == {"viewer": {"name": "Alex Admin"}}


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (SYNTAX_ERROR, None, "GRAPHQL_PARSE_FAILED"),
        (UNKNOWN_FIELD, None, "GRAPHQL_VALIDATION_FAILED"),
        (NEEDS_ID, {"id": None}, "BAD_USER_INPUT"),
        (TWO_OPERATIONS, None, "GRAPHQL_VALIDATION_FAILED"),
        (SUBSCRIPTION, None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_request_errors_are_400_under_graphql_response_json_and_200_under_json(
    demo_org: Org, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    body = {"query": query, "variables": variables}

    strict = await post(demo_org, body, accept=GRAPHQL_RESPONSE_JSON)
    legacy = await post(demo_org, body, accept="application/json")

    assert strict.status_code == 400
    assert media_type(strict) == GRAPHQL_RESPONSE_JSON
    assert legacy.status_code == 200
    assert media_type(legacy) == JSON
    for response in (strict, legacy):
        assert "data" not in response.json()
        assert codes(response) == [code]


async def test_an_unknown_operation_name_is_a_request_error(demo_org: Org) -> None:
    response = await post(
        demo_org,
        {"query": TWO_OPERATIONS, "operationName": "C"},
        accept=GRAPHQL_RESPONSE_JSON,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Unknown operation named 'C'"


async def test_the_named_operation_runs(demo_org: Org) -> None:
    response = await post(demo_org, {"query": TWO_OPERATIONS, "operationName": "B"})
    assert response.json()["data"] == {"viewer": {"role": "ADMIN"}}


async def test_field_errors_keep_data_and_a_2xx(demo_org: Org) -> None:
    response = await post(demo_org, {"query": TOO_MANY_CONTACTS}, accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert codes(response) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["contacts"]


async def test_get_runs_queries(demo_org: Org) -> None:
    response = await get(
        demo_org,
        {"query": NEEDS_ID, "variables": json.dumps({"id": "nope"})},
        accept=GRAPHQL_RESPONSE_JSON,
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"contact": None}


async def test_get_refuses_mutations_with_405_and_changes_nothing(demo_org: Org) -> None:
    # given
    found = await demo_org.admin(FIRST_NOTE)
    note = next(
        contact["notes"]["nodes"][0]
        for contact in found.data["contacts"]["nodes"]
        if contact["notes"]["nodes"]
    )
    variables = {"input": {"noteId": note["id"], "body": "Changed over GET"}}

    # when
    response = await get(
        demo_org,
        {"query": UPDATE_NOTE, "variables": json.dumps(variables)},
        accept=GRAPHQL_RESPONSE_JSON,
    )

    # then
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    after = await demo_org.admin(NOTE_BODY, {"id": note["id"]})
    assert after.data["node"] == {"body": note["body"], "version": note["version"]}


async def test_get_refuses_mutations_whatever_the_accept_header(demo_org: Org) -> None:
    response = await get(demo_org, {"query": "mutation { __typename }"})
    assert response.status_code == 405
    assert media_type(response) == JSON


_QUERY = '"query": "{ viewer { name } }"'
_BATCH = "The body must be a JSON object; batches are not accepted"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "The request has no body"),
        ('{ "not a JSON', "The body is not valid JSON"),
        ("[]", _BATCH),
        (f"[{{{_QUERY}}}]", _BATCH),
        ('{"qeury": "{ viewer { name } }"}', "The request has no `query`"),
        ('{"query": {"obj": "ect"}}', "`query` must be a string"),
        ('{"query": 0}', "`query` must be a string"),
        (f'{{{_QUERY}, "operationName": false}}', "`operationName` must be a string or null"),
        (f'{{{_QUERY}, "variables": "string"}}', "`variables` must be an object or null"),
        (f'{{{_QUERY}, "variables": ["array"]}}', "`variables` must be an object or null"),
        (f'{{{_QUERY}, "extensions": 0}}', "`extensions` must be an object or null"),
    ],
)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE_JSON])
async def test_malformed_requests_are_400_with_a_graphql_error(
    demo_org: Org, body: str, message: str, accept: str
) -> None:
    response = await post(demo_org, body.encode(), accept=accept)
    assert response.status_code == 400
    assert media_type(response) == accept
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    }


async def test_null_parameters_are_accepted(demo_org: Org) -> None:
    response = await post(
        demo_org,
        {"query": VIEWER, "variables": None, "operationName": None, "extensions": None},
        accept=GRAPHQL_RESPONSE_JSON,
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"name": "Alex Admin"}}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_post_bodies_other_than_json_are_415(demo_org: Org, content_type: str | None) -> None:
    response = await post(demo_org, {"query": VIEWER}, content_type=content_type)
    assert response.status_code == 415
    assert response.headers["accept-post"] == "application/json"
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


async def test_a_json_body_with_a_charset_is_accepted(demo_org: Org) -> None:
    response = await post(
        demo_org,
        {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'},
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__type": None}


async def test_an_accept_header_without_a_json_type_is_406(demo_org: Org) -> None:
    response = await post(demo_org, {"query": VIEWER}, accept="text/plain")
    assert response.status_code == 406
    assert codes(response) == ["NOT_ACCEPTABLE"]


async def test_unauthenticated_requests_are_still_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert response.status_code == 401
    assert codes(response) == ["UNAUTHENTICATED"]
