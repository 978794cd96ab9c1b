"""Contacts read with their attribute values in one statement: what the look-ahead sees of
a selection, and that the values read that way are the ones read on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import strawberry

from resolvers import ids
from schema import query as query_module
from schema.lookahead import selects
from tests.bulk import add_contact, add_conversation
from tests.conftest import Org

# --- selects(), on a schema of its own ----------------------------------------------------

PATHS = (("nodes", "contact", "attributes"), ("edges", "node", "contact", "attributes"))


@strawberry.type
class Leaf:
    key: str = "k"


@strawberry.type
class Person:
    name: str = "n"
    attributes: list[Leaf] = strawberry.field(default_factory=list)


@strawberry.type
class Item:
    contact: Person = strawberry.field(default_factory=Person)


@strawberry.type
class Edge:
    node: Item = strawberry.field(default_factory=Item)


@strawberry.type
class Page:
    nodes: list[Item] = strawberry.field(default_factory=lambda: [Item()])
    edges: list[Edge] = strawberry.field(default_factory=lambda: [Edge()])


@strawberry.type
class Query:
    @strawberry.field
    def page(self, info: strawberry.Info) -> Page:
        info.context["seen"] = selects(info, *PATHS)
        return Page()


SCHEMA = strawberry.Schema(query=Query)


async def _seen(document: str) -> bool:
    context: dict[str, Any] = {}
    result = await SCHEMA.execute(document, context_value=context)
    assert result.errors is None, result.errors
    seen: bool = context["seen"]
    return seen


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ page { nodes { contact { attributes { key } } } } }", True),
        ("{ page { edges { node { contact { attributes { key } } } } } }", True),
        ("{ page { nodes { contact { name } } } }", False),
        ("{ page { edges { node { contact { name } } } } }", False),
        # an alias is not a field name; the field under it is
        ("{ page { nodes { contact { attributes: name } } } }", False),
        ("{ page { rows: nodes { who: contact { values: attributes { key } } } } }", True),
        # through fragments, spread and inline, at any depth
        (
            "{ page { ...P } } fragment P on Page { nodes { ...I } }"
            " fragment I on Item { contact { ... on Person { attributes { key } } } }",
            True,
        ),
        (
            "{ page { ...P } } fragment P on Page { nodes { contact { name } } }",
            False,
        ),
        # a directive is not evaluated: counted as selected
        ("{ page { nodes { contact { attributes @skip(if: true) { key } } } } }", True),
        # the same field twice, merged: the second one has the path
        (
            "{ page { nodes { contact { name } } }"
            " page { nodes { contact { attributes { key } } } } }",
            True,
        ),
    ],
)
async def test_the_look_ahead_follows_fragments_and_aliases(document: str, expected: bool) -> None:
    assert await _seen(document) is expected


# --- the values read with the contacts ---------------------------------------------------

WITH_CONVERSATIONS = """
query ($n: Int!) {
  conversations(first: $n, orderBy: NEWEST) {
    nodes { contact { id attributes { key value updatedAt updatedBy { id } } } }
  }
}
"""
WITH_CONTACTS = """
query ($n: Int!) {
  contacts(first: $n) { nodes { id attributes { key value updatedAt updatedBy { id } } } }
}
"""
BY_ID = """
query ($id: ID!) { contact(id: $id) { attributes { key value updatedAt updatedBy { id } } } }
"""


async def test_values_read_with_the_contacts_are_those_read_on_their_own(
    owner: asyncpg.Connection, demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a contact without any value, with the newest conversation
    bare = await add_contact(owner, demo_org.id, name="Bare Contact")
    await add_conversation(
        owner, demo_org.id, bare, last_message_at=datetime.now(UTC) + timedelta(days=1)
    )
    contacts = await owner.fetchval(
        "SELECT count(*) FROM contacts WHERE organization_id = $1", demo_org.id
    )
    variables = {"n": contacts}

    # when: every contact's attributes through the conversations and the contact list
    # (values in the page's statement), one by one (values in the contact's statement), and
    # through the contact list with the look-ahead blind (values in a statement of their
    # own, by the values loader)
    by_conversation = await demo_org.agent(WITH_CONVERSATIONS, {"n": 100})
    by_list = await demo_org.agent(WITH_CONTACTS, variables)
    with monkeypatch.context() as blind:
        blind.setattr(query_module, "selects", lambda info, *paths: False)
        alone = await demo_org.agent(WITH_CONTACTS, variables)

    # then
    expected = {c["id"]: c["attributes"] for c in alone.data["contacts"]["nodes"]}
    assert alone.statements == by_list.statements + 1
    assert {c["id"]: c["attributes"] for c in by_list.data["contacts"]["nodes"]} == expected
    conversations = by_conversation.data["conversations"]["nodes"]
    assert conversations[0]["contact"]["id"] == ids.encode("Contact", bare)
    assert len(conversations) > 1
    for conversation in conversations:
        contact = conversation["contact"]
        assert contact["attributes"] == expected[contact["id"]]
        one = await demo_org.agent(BY_ID, {"id": contact["id"]})
        assert one.data["contact"]["attributes"] == expected[contact["id"]]
    bare_attributes = expected[ids.encode("Contact", bare)]
    assert bare_attributes
    assert all(attribute["value"] is None for attribute in bare_attributes)
    assert any(
        attribute["value"] is not None
        for attributes in expected.values()
        for attribute in attributes
    )
