"""Contacts read with their attribute values in one statement: what the look-ahead sees of
a selection, and that the values read that way are the ones read on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import strawberry

from db.attributes import ValuesRead
from resolvers import ids
from schema import query as query_module
from schema.lookahead import selects
from tests.bulk import add_contact, add_conversation, add_note
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
        blind.setattr(query_module, "attribute_values_read", lambda info, *paths: ValuesRead.NONE)
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


# --- the pages of notes and conversations read with a contact ------------------------------

PANEL = """
query ($id: ID!, $notes: Int, $after: String, $last: Int) {
  contact(id: $id) { ...Panel }
}
"""
PANEL_BY_NODE = """
query ($id: ID!, $notes: Int, $after: String, $last: Int) {
  node(id: $id) { ...Panel }
}
"""
PANEL_FRAGMENT = """
fragment Panel on Contact {
  id
  notes(first: $notes, after: $after, last: $last) {
    nodes { id body createdAt updatedAt version author { id name email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  conversations(first: 3) {
    nodes { id status subject lastMessageAt createdAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _busy_contact(owner: asyncpg.Connection, org: Org) -> int:
    """A contact with 25 live notes by two authors, a deleted one, and 5 conversations."""
    contact = await add_contact(owner, org.id, name="Busy Contact")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(26):
        await add_note(
            owner,
            org.id,
            org.agent_id if n % 3 else org.admin_id,
            contact_id=contact,
            body=f"Note {n}",
            # two notes share each time: the id orders them
            created_at=start + timedelta(hours=n // 2),
        )
    await owner.execute(
        "UPDATE notes SET deleted_at = now(), deleted_by = author_id"
        " WHERE organization_id = $1 AND contact_id = $2 AND body = 'Note 7'",
        org.id,
        contact,
    )
    for n in range(5):
        await add_conversation(owner, org.id, contact, last_message_at=start + timedelta(days=n))
    return contact


@pytest.mark.parametrize(
    "window",
    [{"notes": 20}, {"notes": 0}, {"notes": 100}, {"last": 4}, {"notes": 5, "after": "end"}],
    ids=["first 20", "first 0", "first 100", "last 4", "after a cursor"],
)
async def test_pages_read_with_the_contact_are_those_read_on_their_own(
    owner: asyncpg.Connection, demo_org: Org, window: dict[str, Any]
) -> None:
    # given
    contact_id = ids.encode("Contact", await _busy_contact(owner, demo_org))
    variables: dict[str, Any] = {"id": contact_id, **window}
    if window.get("after") == "end":
        first = await demo_org.agent(PANEL + PANEL_FRAGMENT, {"id": contact_id, "notes": 5})
        variables["after"] = first.data["contact"]["notes"]["pageInfo"]["endCursor"]

    # when: the pages come with the contact (contact), and on their own (node)
    with_contact = await demo_org.agent(PANEL + PANEL_FRAGMENT, variables)
    alone = await demo_org.agent(PANEL_BY_NODE + PANEL_FRAGMENT, variables)

    # then: the same answer, two statements fewer
    assert with_contact.data["contact"] == alone.data["node"]
    assert with_contact.statements == alone.statements - 2
    notes = with_contact.data["contact"]["notes"]["nodes"]
    assert "Note 7" not in {note["body"] for note in notes}
    assert len({note["author"]["id"] for note in notes}) == (2 if len(notes) > 2 else len(notes))


async def test_pages_read_with_the_contact_in_the_demo_data(demo_org: Org) -> None:
    # Every contact of the demo, with its own notes and conversations, or none.
    listed = await demo_org.agent("{ contacts(first: 100) { nodes { id } } }")
    for contact in listed.data["contacts"]["nodes"]:
        variables = {"id": contact["id"], "notes": 20}
        with_contact = await demo_org.agent(PANEL + PANEL_FRAGMENT, variables)
        alone = await demo_org.agent(PANEL_BY_NODE + PANEL_FRAGMENT, variables)
        assert with_contact.data["contact"] == alone.data["node"]


async def test_different_pages_of_one_list_are_read_on_their_own(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact_id = ids.encode("Contact", await _busy_contact(owner, demo_org))
    selection = """
      a: notes(first: 2) { nodes { body } }
      b: notes(first: 3) { nodes { body } }
      conversations(first: 2) { nodes { id } }
    """

    with_contact = await demo_org.agent(
        f"query ($id: ID!) {{ contact(id: $id) {{ {selection} }} }}", {"id": contact_id}
    )
    alone = await demo_org.agent(
        f"query ($id: ID!) {{ node(id: $id) {{ ... on Contact {{ {selection} }} }} }}",
        {"id": contact_id},
    )

    # then: only the conversations come with the contact; each page of notes is its own
    assert with_contact.data["contact"] == alone.data["node"]
    assert [len(with_contact.data["contact"][k]["nodes"]) for k in "ab"] == [2, 3]
    assert with_contact.statements == alone.statements - 1


async def test_two_contacts_share_one_statement_with_their_pages(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    busy = await _busy_contact(owner, demo_org)
    bare = await add_contact(owner, demo_org.id, name="Bare Contact")
    pages = "notes(first: 2) { nodes { body } } conversations(first: 1) { nodes { id } }"
    document = f"""
    query ($x: ID!, $y: ID!) {{
      x: contact(id: $x) {{ {pages} }}
      y: contact(id: $y) {{ {pages} }}
    }}
    """

    reply = await demo_org.agent(
        document, {"x": ids.encode("Contact", busy), "y": ids.encode("Contact", bare)}
    )

    # then: auth, the contacts with their pages, the definitions (first read of them)
    assert reply.statements <= 3
    assert [n["body"] for n in reply.data["x"]["notes"]["nodes"]] == ["Note 25", "Note 24"]
    assert len(reply.data["x"]["conversations"]["nodes"]) == 1
    assert reply.data["y"] == {"notes": {"nodes": []}, "conversations": {"nodes": []}}


async def test_a_page_argument_out_of_range_is_reported_by_its_field(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact_id = ids.encode("Contact", await _busy_contact(owner, demo_org))
    variables = {"id": contact_id, "notes": 500}

    with_contact = await demo_org.agent(PANEL + PANEL_FRAGMENT, variables)
    alone = await demo_org.agent(PANEL_BY_NODE + PANEL_FRAGMENT, variables)

    assert with_contact.codes == alone.codes == ["BAD_USER_INPUT"]
    assert with_contact.errors[0]["path"] == ["contact", "notes"]
    assert with_contact.errors[0]["message"] == alone.errors[0]["message"]
