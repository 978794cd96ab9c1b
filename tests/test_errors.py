"""Errors: an unexpected failure is masked (INTERNAL_SERVER_ERROR and the request id,
nothing of its message) and logged with that id; expected errors keep their codes;
graphql-core's own errors keep their messages and get a code."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest

from resolvers import contacts
from resolvers.errors import Forbidden
from schema import http
from tests.conftest import Org

SECRET = "password=hunter2 at db-7.internal"

CONTACT = "query Contact($id: ID!) { contact(id: $id) { id name } }"
CONTACT_WITH_ATTRIBUTES = """
query Contact($id: ID!) { contact(id: $id) { id name attributes { key } } }
"""
FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"
TOO_LARGE_PAGE = "{ contacts(first: 101) { nodes { id } } }"
CREATE_VIP_GROUP = """
mutation { createVipGroup(input: {name: "Platinum", priority: 20}) { vipGroup { id } } }
"""
SYNTAX_ERROR = "{ viewer { id }"
UNKNOWN_FIELD = "{ viewer { id shoeSize } }"
MISSING_VARIABLE = "query Contact($id: ID!) { contact(id: $id) { id } }"
WRONG_VARIABLE = "query Contacts($first: Int) { contacts(first: $first) { nodes { id } } }"


def _fail(*args: Any, **kwargs: Any) -> NoReturn:
    raise RuntimeError(SECRET)


async def _contact_id(org: Org) -> str:
    reply = await org.agent(FIRST_CONTACT)
    found: str = reply.data["contacts"]["nodes"][0]["id"]
    return found


async def test_a_failing_resolver_is_masked_and_logged_with_the_request_id(
    demo_org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    contact_id = await _contact_id(demo_org)
    monkeypatch.setattr(contacts, "contact_by_global_id", _fail)

    with caplog.at_level(logging.ERROR, logger="inbox.graphql"):
        reply = await demo_org.agent(CONTACT, {"id": contact_id})

    request_id = reply.headers["x-request-id"]
    assert reply.status == 200
    assert reply.body["data"] == {"contact": None}
    assert reply.errors == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 27}],
            "path": ["contact"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    ]
    assert SECRET not in str(reply.body)
    [record] = [r for r in caplog.records if r.name == "inbox.graphql"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET


async def test_a_failing_nested_field_leaves_the_rest_of_the_answer(
    demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact_id = await _contact_id(demo_org)
    monkeypatch.setattr(contacts, "values_of", _fail)

    reply = await demo_org.agent(CONTACT_WITH_ATTRIBUTES, {"id": contact_id})

    # attributes is non-null, so the failure nulls the contact, and only it
    assert reply.body["data"] == {"contact": None}
    assert reply.codes == ["INTERNAL_SERVER_ERROR"]
    assert reply.errors[0]["path"] == ["contact", "attributes"]
    assert reply.errors[0]["extensions"]["requestId"] == reply.headers["x-request-id"]
    assert SECRET not in str(reply.body)


async def test_the_clients_request_id_is_kept(
    client: httpx.AsyncClient, demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact_id = await _contact_id(demo_org)
    monkeypatch.setattr(contacts, "contact_by_global_id", _fail)

    response = await client.post(
        "/graphql",
        json={"query": CONTACT, "variables": {"id": contact_id}},
        headers={"Authorization": f"Bearer {demo_org.agent.token}", "X-Request-Id": "trace-42"},
    )

    assert response.headers["x-request-id"] == "trace-42"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "trace-42"


async def test_an_expected_error_of_a_resolver_keeps_its_code(
    demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise Forbidden("Not this one")

    monkeypatch.setattr(contacts, "contact_by_global_id", refuse)

    reply = await demo_org.agent(CONTACT, {"id": "anything"})

    assert reply.codes == ["FORBIDDEN"]
    assert reply.errors[0]["message"] == "Not this one"
    assert "requestId" not in reply.errors[0]["extensions"]


async def test_a_page_too_large_is_bad_user_input(demo_org: Org) -> None:
    reply = await demo_org.agent(TOO_LARGE_PAGE)

    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["message"] == "`first` must be between 0 and 100, got 101"


async def test_an_agent_is_forbidden_an_admin_mutation(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    before = await owner.fetchval("SELECT count(*) FROM vip_groups")

    reply = await demo_org.agent(CREATE_VIP_GROUP)

    assert reply.codes == ["FORBIDDEN"]
    assert await owner.fetchval("SELECT count(*) FROM vip_groups") == before


async def test_a_syntax_error_keeps_graphqls_message(demo_org: Org) -> None:
    reply = await demo_org.agent(SYNTAX_ERROR)

    assert reply.errors == [
        {
            "message": "Syntax Error: Expected Name, found <EOF>.",
            "locations": [{"line": 1, "column": 16}],
            "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
        }
    ]
    assert reply.statements == 1


async def test_a_validation_error_keeps_graphqls_message(demo_org: Org) -> None:
    reply = await demo_org.agent(UNKNOWN_FIELD)

    assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert reply.errors[0]["message"] == "Cannot query field 'shoeSize' on type 'Agent'."
    assert reply.body.get("data") is None
    assert reply.statements == 1


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            MISSING_VARIABLE,
            {},
            "Variable '$id' has invalid value: Expected a value of non-null type 'ID!' to be"
            " provided.",
        ),
        (
            WRONG_VARIABLE,
            {"first": "ten"},
            "Variable '$first' has invalid value: Int cannot represent non-integer value: 'ten'",
        ),
    ],
)
async def test_variables_that_do_not_fit_are_bad_user_input(
    demo_org: Org, query: str, variables: dict[str, Any], message: str
) -> None:
    reply = await demo_org.agent(query, variables)

    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["message"] == message
    assert reply.statements == 1


async def test_a_body_that_is_not_json_is_a_bad_request(
    client: httpx.AsyncClient, demo_org: Org
) -> None:
    response = await client.post(
        "/graphql",
        content=b"{ viewer { id } }",
        headers={
            "Authorization": f"Bearer {demo_org.agent.token}",
            "Content-Type": "application/json",
        },
    )

    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]
    assert response.headers["x-request-id"]


SEARCH = "query ($search: String) { contacts(search: $search) { totalCount } }"


@pytest.mark.parametrize(
    ("search", "reason"),
    [
        ("ab\x00c", "must not contain NUL characters"),
        ("ab\ud800c", "must not contain lone surrogate code points (invalid UTF-16)"),
    ],
    ids=["nul", "lone-surrogate"],
)
async def test_a_search_postgresql_cannot_store_is_bad_user_input(
    demo_org: Org, search: str, reason: str
) -> None:
    reply = await demo_org.agent(SEARCH, {"search": search})

    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["message"] == f"`search` {reason}"
    assert reply.statements == 1  # authentication only


NESTED = "[" * 5_000 + "]" * 5_000  # 10 KB, deeper than Python's recursion limit


async def test_json_nested_too_deep_is_a_bad_request(
    client: httpx.AsyncClient, demo_org: Org
) -> None:
    headers = {"Authorization": f"Bearer {demo_org.agent.token}"}

    posted = await client.post(
        "/graphql",
        content='{"query": "{ viewer { id } }", "variables": {"a": ' + NESTED + "}}",
        headers={**headers, "Content-Type": "application/json"},
    )
    in_variables = await client.get(
        "/graphql", params={"query": "{ viewer { id } }", "variables": NESTED}, headers=headers
    )
    in_extensions = await client.get(
        "/graphql", params={"query": "{ viewer { id } }", "extensions": NESTED}, headers=headers
    )

    for response in (posted, in_variables, in_extensions):
        assert response.status_code == 400
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]
        assert response.headers["x-request-id"]


async def test_an_exception_outside_any_field_is_a_json_500_with_the_request_id(
    client: httpx.AsyncClient,
    demo_org: Org,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(http, "bearer_token", _fail)

    with caplog.at_level(logging.ERROR, logger="inbox.graphql"):
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"Authorization": f"Bearer {demo_org.agent.token}"},
        )

    request_id = response.headers["x-request-id"]
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    assert SECRET not in response.text
    [record] = [r for r in caplog.records if r.name == "inbox.graphql"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET


async def test_the_500_keeps_the_clients_request_id(
    client: httpx.AsyncClient, demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "bearer_token", _fail)

    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"Authorization": f"Bearer {demo_org.agent.token}", "X-Request-Id": "trace-500"},
    )

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "trace-500"
