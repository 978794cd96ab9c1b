"""Query limits: hostile documents are refused before anything runs (the only SQL
statement is the authentication), with QUERY_TOO_COMPLEX naming the limit; the queries
the clients send fit, and the cost is reported in `extensions.cost`."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import get_introspection_query
from graphql.language import Lexer, Source, TokenKind

from schema import limits
from schema.http import MAX_BODY_BYTES
from schema.measure import LIST_ESTIMATE
from tests.conftest import GraphQL, Org, Reply

# What the contact panel asks for.
CONTACT_PANEL = """
query ContactPanel($id: ID!) {
  contact(id: $id) {
    id name handle network avatarUrl profileUrl isVip
    validation { status crmName crmRecordId validatedAt lastLookupAt }
    vipGroup { id name priority team { id name } }
    attributes {
      key label kind type value editable updatedAt
      updatedBy { id name }
      definition { id options pattern description }
    }
    notes(first: 20) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id body createdAt updatedAt version
          author { id name avatarUrl }
          updatedBy { id name }
        }
      }
    }
    conversations(first: 3) {
      totalCount
      nodes { id status subject lastMessageAt network team { id name } }
    }
  }
}
"""

# What the queue asks for, a page of 50 at a time.
QUEUE = """
query Queue($first: Int, $after: String) {
  conversations(first: $first, after: $after, status: OPEN) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id status subject priority lastMessageAt network
        team { id name }
        contact {
          id name handle network avatarUrl isVip
          vipGroup { id name priority team { id name } }
          attributes { key label value kind type }
        }
      }
    }
  }
}
"""

# What GraphiQL sends to learn the schema.
INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"


def _nested(levels: int, leaf: str = "id") -> str:
    """contact → conversations → nodes → contact …: one field per level, `levels` deep."""
    opened, depth = ['contact(id: "nope") {'], 1
    while depth + 3 < levels:
        opened += ["conversations(first: 1) {", "nodes {", "contact {"]
        depth += 3
    middle = {1: [], 2: ["vipGroup {"], 3: ["vipGroup {", "team {"]}[levels - depth]
    return "{ " + " ".join(opened + middle) + f" {leaf} " + "}" * (len(opened) + len(middle)) + " }"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(count)) + " }"


def _tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def _with_tokens(count: int) -> str:
    """A valid query of exactly `count` tokens: an attribute filter listing a kind often."""
    base = "{ contacts(first: 1) { nodes { attributes(kinds: []) { key } } } }"
    return base.replace("[]", "[" + " COMMON" * (count - _tokens(base)) + "]")


DEPTH_50 = _nested(50)
DEPTH_AT_LIMIT = _nested(limits.MAX_DEPTH)
DEPTH_PAST_LIMIT = _nested(limits.MAX_DEPTH + 1)
ALIASES_1000 = _aliases(1000)
ALIASES_AT_LIMIT = _aliases(limits.MAX_ALIASES)
ALIASES_PAST_LIMIT = _aliases(limits.MAX_ALIASES + 1)
FIELDS_AT_LIMIT = "{ viewer { " + "id " * (limits.MAX_FIELDS - 1) + "} }"
FIELDS_PAST_LIMIT = "{ viewer { " + "id " * limits.MAX_FIELDS + "} }"
# The same field over and over: graphql-core's validation would compare every pair.
REPEATED_FIELDS = "{ " + "viewer { id } " * 240 + "}"
TOKENS_AT_LIMIT = _with_tokens(limits.MAX_TOKENS)
TOKENS_PAST_LIMIT = _with_tokens(limits.MAX_TOKENS + 1)
COMMENTS_PAST_LIMIT = "#\n" * (limits.MAX_TOKENS + 1) + "{ viewer { id } }"
LONG_DOCUMENT = "{ viewer { id } }" + " " * limits.MAX_DOCUMENT_LENGTH
MEGABYTE_QUERY = "{ viewer { id } }" + "#" * 1_000_000
FRAGMENT_CYCLE = """
{ viewer { ...A } }
fragment A on Agent { name ...B }
fragment B on Agent { id ...A }
"""
FRAGMENT_SPREAD_IN_ITSELF = "{ viewer { ...A } } fragment A on Agent { id ...A }"
# Each fragment spreads the next one twice: 2^60 paths, each fragment measured once.
FRAGMENT_LADDER = (
    "{ ...F0 }\n"
    + "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(60))
    + "fragment F60 on Query { viewer { id } }"
)

PAGES_OF_100_FOUR_DEEP = """
{
  contacts(first: 100) { nodes {
    conversations(first: 100) { nodes {
      messages(first: 100) { nodes {
        conversation { notes(first: 100) { nodes { id body } } }
      } }
    } }
  } }
}
"""
PAGE_OF_100_IN_PAGE_OF_100 = """
{ contacts(first: 100) { nodes { conversations(first: 100) { nodes { id } } } } }
"""
PAGE_OF_20_IN_PAGE_OF_100 = """
{ contacts(first: 100) { nodes { id conversations(first: 20) { nodes { id } } } } }
"""
DEFAULT_PAGES = "{ contacts { nodes { notes { nodes { id } } } } }"
PAGES_BY_VARIABLE = """
query Pages($size: Int) {
  contacts(first: $size) { nodes { conversations(last: $size) { nodes { id } } } }
}
"""
PLAIN_LISTS = "{ contacts(first: 100) { nodes { attributes { key } } } }"
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id } }"
# Introspection lists count like any list: interfaces of possible types of interfaces …
INTROSPECTION_LOOP = """
{ __schema { types { interfaces { possibleTypes { interfaces { possibleTypes {
  interfaces { possibleTypes { name } } } } } } } } }
"""

ADD_NOTE_AND_READ_TOO_MUCH = """
mutation Add($contactId: ID!) {
  addContactNote(input: {contactId: $contactId, body: "should not be kept"}) {
    note { id }
    contact {
      conversations(first: 100) { nodes { messages(first: 100) { nodes { id } } } }
    }
  }
}
"""


def _refused(reply: Reply, *limits_hit: str) -> None:
    """Refused as too complex, for exactly `limits_hit`, with nothing run but the
    authentication."""
    assert reply.status == 200
    assert reply.codes == ["QUERY_TOO_COMPLEX"] * len(limits_hit), reply.body
    assert [error["extensions"]["limit"] for error in reply.errors] == list(limits_hit)
    assert reply.body.get("data") is None
    assert reply.statements == 1


async def _timed(call: GraphQL, query: str, variables: dict[str, Any] | None = None) -> Reply:
    started = time.perf_counter()
    reply = await call(query, variables)
    # Generous on a shared machine; what it catches is work proportional to the attack.
    assert time.perf_counter() - started < 1.0
    return reply


async def _post(client: httpx.AsyncClient, token: str | None, **kwargs: Any) -> httpx.Response:
    return await client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        **kwargs,
    )


async def test_a_query_fifty_fields_deep_is_refused(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, DEPTH_50)

    _refused(reply, "depth")
    assert reply.errors[0]["extensions"]["actual"] == 50
    assert reply.errors[0]["extensions"]["maximum"] == limits.MAX_DEPTH


async def test_depth_up_to_the_limit_runs(demo_org: Org) -> None:
    at_limit = await demo_org.agent(DEPTH_AT_LIMIT)
    past_limit = await demo_org.agent(DEPTH_PAST_LIMIT)

    assert at_limit.data == {"contact": None}  # an id of no contact: nothing to walk
    _refused(past_limit, "depth")
    assert past_limit.errors[0]["extensions"]["actual"] == limits.MAX_DEPTH + 1


async def test_a_thousand_aliases_are_refused(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, ALIASES_1000)

    # 6,000 tokens: the parser stops before the aliases are even counted.
    _refused(reply, "tokens")


async def test_aliases_up_to_the_limit_run(demo_org: Org) -> None:
    at_limit = await demo_org.agent(ALIASES_AT_LIMIT)
    past_limit = await demo_org.agent(ALIASES_PAST_LIMIT)

    assert len(at_limit.data) == limits.MAX_ALIASES
    _refused(past_limit, "aliases")
    assert past_limit.errors[0]["extensions"]["actual"] == limits.MAX_ALIASES + 1


async def test_fields_up_to_the_limit_run(demo_org: Org) -> None:
    at_limit = await demo_org.agent(FIELDS_AT_LIMIT)
    past_limit = await demo_org.agent(FIELDS_PAST_LIMIT)
    repeated = await _timed(demo_org.agent, REPEATED_FIELDS)

    assert at_limit.data["viewer"]["id"]
    _refused(past_limit, "fields")
    _refused(repeated, "fields")
    assert repeated.errors[0]["extensions"]["actual"] == 480


async def test_tokens_up_to_the_limit_run(demo_org: Org) -> None:
    assert _tokens(TOKENS_AT_LIMIT) == limits.MAX_TOKENS

    at_limit = await demo_org.agent(TOKENS_AT_LIMIT)
    past_limit = await demo_org.agent(TOKENS_PAST_LIMIT)
    comments = await demo_org.agent(COMMENTS_PAST_LIMIT)

    assert len(at_limit.data["contacts"]["nodes"]) == 1
    _refused(past_limit, "tokens")
    _refused(comments, "tokens")


async def test_a_document_longer_than_the_limit_is_refused(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, LONG_DOCUMENT)

    _refused(reply, "length")
    assert reply.errors[0]["extensions"]["actual"] == len(LONG_DOCUMENT)


async def test_a_one_megabyte_query_is_refused_before_anything_runs(
    client: httpx.AsyncClient, demo_org: Org
) -> None:
    started = time.perf_counter()
    response = await _post(client, demo_org.agent.token, json={"query": MEGABYTE_QUERY})

    assert time.perf_counter() - started < 1.0
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "bodyBytes",
        "maximum": MAX_BODY_BYTES,
    }
    assert "x-sql-statements" not in response.headers  # not even authenticated
    assert response.headers["x-request-id"]


async def test_a_streamed_body_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, demo_org: Org
) -> None:
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        yield b'{"query": "{ viewer { id } }", "variables": {"pad": "'
        for _ in range(64):  # 4 MB in all, without a Content-Length
            sent += 1
            yield b"x" * 65_536
        yield b'"}}'

    response = await _post(client, demo_org.agent.token, content=chunks())

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["limit"] == "bodyBytes"
    assert "x-sql-statements" not in response.headers
    assert sent < 64  # reading stopped once the limit was passed


async def test_a_body_under_the_limit_is_served(client: httpx.AsyncClient, demo_org: Org) -> None:
    padding = "x" * (MAX_BODY_BYTES - 200)
    response = await _post(
        client,
        demo_org.agent.token,
        json={"query": "{ viewer { name } }", "variables": {"pad": padding}},
    )

    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"name": "Sam Agent"}}


async def test_a_fragment_cycle_is_refused_by_graphql_validation(demo_org: Org) -> None:
    cycle = await _timed(demo_org.agent, FRAGMENT_CYCLE)
    itself = await _timed(demo_org.agent, FRAGMENT_SPREAD_IN_ITSELF)

    assert cycle.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert cycle.errors[0]["message"] == "Cannot spread fragment 'A' within itself via 'B'."
    assert itself.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert itself.errors[0]["message"] == "Cannot spread fragment 'A' within itself."
    assert cycle.statements == itself.statements == 1


async def test_a_fragment_spread_many_times_is_measured_once(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, FRAGMENT_LADDER)

    assert reply.data == {"viewer": {"id": reply.data["viewer"]["id"]}}
    assert reply.body["extensions"]["cost"]["requested"] == 0


async def test_pages_of_100_four_deep_are_refused(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, PAGES_OF_100_FOUR_DEEP)

    _refused(reply, "cost")
    cost = 100 + 100**2 + 100**3 + 100**4
    assert reply.errors[0]["extensions"]["actual"] == cost
    assert reply.body["extensions"]["cost"] == {"requested": cost, "limit": limits.MAX_COST}


async def test_a_page_inside_a_page_multiplies(demo_org: Org) -> None:
    hundreds = await demo_org.agent(PAGE_OF_100_IN_PAGE_OF_100)
    twenties = await demo_org.agent(PAGE_OF_20_IN_PAGE_OF_100)

    _refused(hundreds, "cost")
    assert hundreds.errors[0]["extensions"]["actual"] == 100 + 100 * 100
    assert len(twenties.data["contacts"]["nodes"]) == 50
    assert twenties.body["extensions"]["cost"] == {
        "requested": 100 + 100 * 20,
        "limit": limits.MAX_COST,
    }


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        (DEFAULT_PAGES, None, 20 + 20 * 20),
        (PAGES_BY_VARIABLE, {"size": 10}, 10 + 10 * 10),
        (PAGES_BY_VARIABLE, {}, 20 + 20 * 20),
        (PLAIN_LISTS, None, 100 + 100 * LIST_ESTIMATE),
        (NODES, {"ids": ["a", "b", "c"]}, 3),
        ("{ viewer { name } teams { id } }", None, LIST_ESTIMATE),
    ],
)
async def test_the_cost_is_reported(
    demo_org: Org, query: str, variables: dict[str, Any] | None, cost: int
) -> None:
    reply = await demo_org.agent(query, variables)

    assert reply.data
    assert reply.body["extensions"]["cost"] == {"requested": cost, "limit": limits.MAX_COST}


async def test_page_sizes_from_variables_count(demo_org: Org) -> None:
    reply = await demo_org.agent(PAGES_BY_VARIABLE, {"size": 100})

    _refused(reply, "cost")
    assert reply.errors[0]["extensions"]["actual"] == 100 + 100 * 100


@pytest.mark.parametrize("size", [1e2, "100"], ids=["integral-float", "string"])
async def test_page_sizes_in_other_spellings_count_in_full(demo_org: Org, size: object) -> None:
    # JSON's 1e2 is GraphQL's Int 100; a string fails coercion, but is costed first.
    reply = await demo_org.agent(PAGES_BY_VARIABLE, {"size": size})

    _refused(reply, "cost")
    assert reply.errors[0]["extensions"]["actual"] == 100 + 100 * 100


async def test_the_contact_panel_and_the_queue_fit(demo_org: Org) -> None:
    contact_id = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]

    panel = await demo_org.agent(CONTACT_PANEL, {"id": contact_id})
    queue = await demo_org.agent(QUEUE, {"first": 50})

    assert panel.data["contact"]["id"] == contact_id
    assert panel.body["extensions"]["cost"]["requested"] == 10 + 20 + 3
    assert queue.data["conversations"]["edges"]
    assert queue.body["extensions"]["cost"]["requested"] == 50 + 50 * 10


async def test_introspection_is_answered_within_the_limits(demo_org: Org) -> None:
    reply = await demo_org.agent(INTROSPECTION)

    types = {t["name"] for t in reply.data["__schema"]["types"]}
    assert {"Contact", "Note", "Query", "Mutation"} <= types
    assert reply.body["extensions"]["cost"]["requested"] <= limits.MAX_COST * 2 // 3
    assert _tokens(INTROSPECTION) <= limits.MAX_TOKENS // 5


async def test_introspection_cannot_loop_through_the_schema(demo_org: Org) -> None:
    reply = await _timed(demo_org.agent, INTROSPECTION_LOOP)

    _refused(reply, "cost")


async def test_a_refused_mutation_changes_nothing(owner: asyncpg.Connection, demo_org: Org) -> None:
    contact_id = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
    notes_before = await owner.fetchval("SELECT count(*) FROM notes")

    reply = await demo_org.agent(ADD_NOTE_AND_READ_TOO_MUCH, {"contactId": contact_id})

    _refused(reply, "cost")
    assert await owner.fetchval("SELECT count(*) FROM notes") == notes_before


async def test_batches_are_not_accepted(client: httpx.AsyncClient, demo_org: Org) -> None:
    batch = [{"query": "{ viewer { id } }"}, {"query": "{ viewer { name } }"}]

    response = await _post(client, demo_org.agent.token, json=batch)

    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]
    assert "data" not in response.json()


async def test_a_remembered_measure_follows_the_variables_that_change_it(demo_org: Org) -> None:
    # The same document, in turn with a page size that fits, one that does not, and the
    # first again: each is measured with its own variables.
    for size, refused in [(2, False), (100, True), (2, False), (1e2, True), (100, True)]:
        reply = await demo_org.agent(PAGES_BY_VARIABLE, {"size": size})
        if refused:
            _refused(reply, "cost")
        else:
            assert reply.body["extensions"]["cost"]["requested"] == 2 + 2 * 2


def test_variables_that_do_not_change_the_measure_reuse_it() -> None:
    from schema import schema as built
    from schema.measure import MeasureCache

    cache = MeasureCache(size=2)
    document = limits.parse_document(CONTACT_PANEL)
    assert not isinstance(document, Exception)
    graphql_schema = built._schema

    first = cache.measure(graphql_schema, document, None, {"id": "Q29udGFjdDox"})
    again = cache.measure(graphql_schema, document, None, {"id": "Q29udGFjdDoy"})
    queue = limits.parse_document(QUEUE)
    assert not isinstance(queue, Exception)
    small = cache.measure(graphql_schema, queue, None, {"first": 5})
    large = cache.measure(graphql_schema, queue, None, {"first": 50})
    as_float = cache.measure(graphql_schema, queue, None, {"first": 50.0})
    unset = cache.measure(graphql_schema, queue, None, {})

    assert again is first  # the id is not read
    assert small.cost < large.cost
    assert as_float == large
    assert as_float is not large  # 50.0 is not taken for 50 without measuring
    assert unset.cost == small.cost * 20 // 5  # the default page of 20


def test_a_document_is_validated_once_per_parsed_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphql import parse, specified_rules
    from strawberry.schema.schema import validate_document as validate

    from schema import schema as built

    validated: list[object] = []

    def counted(*args: Any) -> Any:
        validated.append(args[1])
        return validate(*args)

    monkeypatch.setattr(limits, "validate_document", counted)
    cache = limits.ValidatedDocuments(size=2)
    graphql_schema = built._schema
    rules = tuple(specified_rules)
    panel = limits.parse_document(CONTACT_PANEL)
    wrong = limits.parse_document('{ contact(id: "x") { nope } }')
    assert not isinstance(panel, Exception)
    assert not isinstance(wrong, Exception)

    assert cache.errors(graphql_schema, panel, rules) == ()
    assert cache.errors(graphql_schema, panel, rules) == ()
    assert validated == [panel]
    # Errors are remembered as well.
    errors = cache.errors(graphql_schema, wrong, rules)
    assert [e.message for e in errors] == [
        "Cannot query field 'nope' on type 'Contact'. Did you mean 'name' or 'notes'?"
    ]
    assert cache.errors(graphql_schema, wrong, rules) is errors
    assert validated == [panel, wrong]
    # An equal document parsed again is another object, validated on its own; other rules
    # are another validation; the oldest entry makes room.
    again = parse(CONTACT_PANEL)
    assert cache.errors(graphql_schema, again, rules) == ()
    assert cache.errors(graphql_schema, again, rules[:1]) == ()
    assert validated == [panel, wrong, again, again]
    assert cache.errors(graphql_schema, panel, rules) == ()
    assert validated == [panel, wrong, again, again, panel]
