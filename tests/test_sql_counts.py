"""The number of SQL statements a request runs does not depend on how many items it lists:
every list field is read for 1 and for 100 items and must cost the same, exact number.

Each count includes the `authenticate` statement every request starts with; transaction
control (BEGIN, COMMIT) is not counted. The counts are those of a worker that keeps no
attribute definitions between requests, as after it starts: one that does (see
test_definitions_cache.py) saves the definitions statement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from resolvers.loaders import DEFINITIONS
from tests.bulk import add_bulk_contacts
from tests.conftest import Org


@pytest.fixture(autouse=True)
def _no_definitions_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    DEFINITIONS.clear()
    monkeypatch.setattr(DEFINITIONS, "size", 0)


# The two queries of the issue.
CONVERSATIONS_WITH_CONTACTS = """
query ($n: Int!) {
  conversations(first: $n) {
    edges { node { contact { name isVip vipGroup { name } attributes { key value } } } }
  }
}
"""
CONTACTS_WITH_NOTES = """
query ($n: Int!) {
  contacts(first: $n) { nodes { notes(first: 5) { nodes { body author { name } } } } }
}
"""

CONTACTS = """
query ($n: Int!) {
  contacts(first: $n) {
    totalCount
    edges { cursor node { id name handle profileUrl validation { status crmName } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CONTACTS_SEARCHED = """
query ($n: Int!) {
  contacts(first: $n, search: "bulk", network: X) { totalCount nodes { id } }
}
"""
CONVERSATIONS = """
query ($n: Int!) {
  conversations(first: $n) {
    totalCount
    nodes {
      id priority team { name }
      lastMessage { body authorProfileUrl conversation { id } }
      contact { name vipGroup { name team { name } } }
    }
  }
}
"""
CONVERSATIONS_NEWEST_OF_A_TEAM = """
query ($n: Int!, $teamId: ID!) {
  conversations(first: $n, orderBy: NEWEST, teamId: $teamId) {
    totalCount nodes { id contact { name } }
  }
}
"""
CONTACT_NOTES = """
query ($n: Int!) {
  contacts(first: $n) {
    nodes {
      notes(first: 20) {
        totalCount
        nodes { body author { name } updatedBy { name } contact { name } conversation { id } }
      }
    }
  }
}
"""
CONTACT_CONVERSATIONS = """
query ($n: Int!) {
  contacts(first: $n) {
    nodes {
      conversations(first: 20) { totalCount nodes { status team { name } contact { name } } }
    }
  }
}
"""
CONTACTS_SEARCHED_WITH_ATTRIBUTES = """
query ($n: Int!) {
  contacts(first: $n, search: "bulk") { edges { node { ...Shown } } }
}
fragment Shown on Contact { name attributes { key value } }
"""
CONTACT_ATTRIBUTES = """
query ($n: Int!) {
  contacts(first: $n) {
    nodes {
      attributes { key value updatedAt updatedBy { name } definition { id options } }
      crm: attributes(kinds: [CRM]) { key }
      attribute(key: "email") { value }
    }
  }
}
"""
CONVERSATION_MESSAGES = """
query ($n: Int!) {
  conversations(first: $n) {
    nodes {
      messages(first: 20) {
        totalCount
        nodes { body direction authorProfileUrl conversation { status } }
      }
    }
  }
}
"""
CONVERSATION_NOTES = """
query ($n: Int!) {
  conversations(first: $n) {
    nodes {
      notes(first: 20) { totalCount nodes { body author { name } conversation { id } } }
    }
  }
}
"""
NOTE_REVISIONS = """
query ($n: Int!) {
  contacts(first: $n) {
    nodes { notes(first: 2) { nodes { revisions { body editedAt editedBy { name } } } } }
  }
}
"""
NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Contact { name vipGroup { name } attributes { value } }
    ... on Note { body author { name } revisions { body } }
    ... on Conversation { contact { name } lastMessage { body } }
    ... on Message { body authorProfileUrl }
    ... on VipGroup { team { name } }
  }
}
"""
ATTRIBUTE_DEFINITIONS = "{ attributeDefinitions(includeArchived: true) { id key options } }"
VIP_GROUPS = "{ vipGroups { id name team { name } } }"
TEAMS = "{ teams { id name } }"


@dataclass(frozen=True)
class Bulk:
    org: Org
    contact_ids: list[int]


@pytest.fixture
async def bulk(owner: asyncpg.Connection, demo_org: Org) -> Bulk:
    """The demo organisation plus 120 contacts with notes, revisions, conversations,
    messages and conversation notes, enough for every list to fill a page of 100."""
    contact_ids = await add_bulk_contacts(owner, demo_org.id, demo_org.agent_id, count=120)
    return Bulk(demo_org, contact_ids)


def _dig(data: Any, path: str) -> list[Any]:
    for key in path.split("."):
        data = data[key]
    assert isinstance(data, list)
    return data


async def _counts(
    bulk: Bulk, query: str, path: str, variables: dict[str, Any] | None = None
) -> tuple[int, int]:
    """Statements for 1 and for 100 items of the list at `path`."""
    found = []
    for n in (1, 100):
        reply = await bulk.org.agent(query, {**(variables or {}), "n": n})
        assert len(_dig(reply.data, path)) == n
        found.append(reply.statements)
    return found[0], found[1]


async def test_the_two_queries_of_the_issue(bulk: Bulk) -> None:
    # auth, the page of conversations with their contacts and the contacts' values (the
    # query asks for them), VIP groups by id, the definitions
    assert await _counts(bulk, CONVERSATIONS_WITH_CONTACTS, "conversations.edges") == (4, 4)
    # auth, the page of contacts, their first five notes each with their authors
    assert await _counts(bulk, CONTACTS_WITH_NOTES, "contacts.nodes") == (3, 3)


PANEL = """
query ($id: ID!, $n: Int!) {
  contact(id: $id) {
    id name isVip validation { status crmName }
    vipGroup { name }
    attributes { key value }
    notes(first: $n) { nodes { body author { name } } pageInfo { hasNextPage } }
    conversations(first: $n) { nodes { status subject } }
  }
}
"""


async def test_a_contact_panel_is_one_statement_after_authentication(bulk: Bulk) -> None:
    # auth; the contact with its VIP group, values, notes with their authors and
    # conversations; the definitions
    contact_id = ids.encode("Contact", bulk.contact_ids[0])
    for n in (1, 100):
        reply = await bulk.org.agent(PANEL, {"id": contact_id, "n": n})
        panel = reply.data["contact"]
        assert len(panel["notes"]["nodes"]) == min(n, 2)
        assert panel["notes"]["nodes"][0]["author"]["name"] == "Sam Agent"
        assert len(panel["conversations"]["nodes"]) >= 1
        assert reply.statements == 3


async def test_every_nested_note_has_its_data(bulk: Bulk) -> None:
    # The counts above are of complete answers: every bulk contact shows its two notes.
    reply = await bulk.org.agent(CONTACTS_WITH_NOTES, {"n": 100})
    notes = [contact["notes"]["nodes"] for contact in reply.data["contacts"]["nodes"]]
    assert [len(n) for n in notes] == [2] * 100
    assert {note["author"]["name"] for n in notes for note in n} == {"Sam Agent"}


@pytest.mark.parametrize(
    ("query", "path", "expected"),
    [
        # auth, page, count
        (CONTACTS, "contacts.edges", 3),
        (CONTACTS_SEARCHED, "contacts.nodes", 3),
        # auth, page (with contacts), count, teams, last messages, VIP groups
        (CONVERSATIONS, "conversations.nodes", 6),
        # auth, page, notes with their authors, note counts; the editors are among the
        # authors and the notes' contacts are the primed page
        (CONTACT_NOTES, "contacts.nodes", 4),
        # auth, page, conversations, their counts, teams
        (CONTACT_CONVERSATIONS, "contacts.nodes", 5),
        # auth, page with the contacts' values (the query asks for them), definitions,
        # agents
        (CONTACT_ATTRIBUTES, "contacts.nodes", 4),
        # auth, search page with the values, definitions
        (CONTACTS_SEARCHED_WITH_ATTRIBUTES, "contacts.edges", 3),
        # auth, page, messages, message counts
        (CONVERSATION_MESSAGES, "conversations.nodes", 4),
        # auth, page, notes with their authors, note counts
        (CONVERSATION_NOTES, "conversations.nodes", 4),
        # auth, page, notes with their authors, revisions (their editors are authors)
        (NOTE_REVISIONS, "contacts.nodes", 4),
    ],
    ids=[
        "contacts",
        "contacts filtered",
        "conversations",
        "Contact.notes",
        "Contact.conversations",
        "Contact.attributes",
        "Contact.attributes of a search",
        "Conversation.messages",
        "Conversation.notes",
        "Note.revisions",
    ],
)
async def test_list_fields_cost_the_same_for_1_and_100_items(
    bulk: Bulk, query: str, path: str, expected: int
) -> None:
    assert await _counts(bulk, query, path) == (expected, expected)


async def test_conversations_of_a_team_newest_first(owner: asyncpg.Connection, bulk: Bulk) -> None:
    # given: every bulk conversation assigned to one team
    team = await owner.fetchval(
        "SELECT id FROM teams WHERE organization_id = $1 AND name = 'Billing'", bulk.org.id
    )
    await owner.execute(
        "UPDATE conversations SET team_id = $2 WHERE organization_id = $1 AND subject = 'Bulk'",
        bulk.org.id,
        team,
    )
    variables = {"teamId": ids.encode("Team", team)}

    # auth, page, count
    counts = await _counts(bulk, CONVERSATIONS_NEWEST_OF_A_TEAM, "conversations.nodes", variables)

    assert counts == (3, 3)


async def test_nodes_by_id_cost_one_statement_per_type(
    owner: asyncpg.Connection, bulk: Bulk
) -> None:
    org = bulk.org.id
    contacts = [ids.encode("Contact", pk) for pk in bulk.contact_ids[:100]]

    # auth, contacts with their VIP groups and values, definitions
    assert await _counts_of_nodes(bulk, contacts) == (3, 3)

    # given: ids of every type, 100 of them; the first team is the one of the first VIP
    # group, so that both lists need the same rows on the second level
    by_type: list[list[str]] = []
    for type_name, table, order in (
        ("Contact", "contacts", "id"),
        ("Note", "notes", "id"),
        ("Conversation", "conversations", "id"),
        ("Message", "messages", "id"),
        ("Agent", "agents", "id"),
        ("VipGroup", "vip_groups", "id"),
        ("Team", "teams", "name <> 'VIP Desk', id"),
        ("AttributeDefinition", "attribute_definitions", "id"),
    ):
        rows = await owner.fetch(
            f"SELECT id FROM {table} WHERE organization_id = $1 ORDER BY {order} LIMIT 40", org
        )
        by_type.append([ids.encode(type_name, row["id"]) for row in rows])
    # one of each type in turn while every type has some left, then the rest
    mixed = [global_id for group in zip(*by_type, strict=False) for global_id in group]
    rest = [global_id for group in by_type for global_id in group if global_id not in mixed]
    mixed += rest[: 100 - len(mixed)]
    assert len(mixed) == 100
    one_of_each = [group[0] for group in by_type]

    # when
    few = await bulk.org.agent(NODES, {"ids": one_of_each})
    many = await bulk.org.agent(NODES, {"ids": mixed})

    # then: auth, one statement per type (definitions come with the organisation's list,
    # values with the contacts), then for the nested fields revisions and last messages;
    # the VIP groups, teams, agents, conversations and contacts they need were read on the
    # first level
    assert None not in few.data["nodes"]
    assert None not in many.data["nodes"]
    assert (few.statements, many.statements) == (11, 11)


async def _counts_of_nodes(bulk: Bulk, global_ids: list[str]) -> tuple[int, int]:
    found = []
    for n in (1, 100):
        reply = await bulk.org.agent(NODES, {"ids": global_ids[:n]})
        assert len(reply.data["nodes"]) == n
        assert None not in reply.data["nodes"]
        found.append(reply.statements)
    return found[0], found[1]


async def test_organisation_lists_cost_the_same_for_1_and_100_items(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: the organisation cut down to one definition, one VIP group and one team
    org = demo_org.id
    await owner.execute("DELETE FROM conversations WHERE organization_id = $1", org)
    await owner.execute("DELETE FROM contacts WHERE organization_id = $1", org)
    await owner.execute(
        "DELETE FROM attribute_definitions WHERE organization_id = $1 AND key <> 'email'", org
    )
    await owner.execute("DELETE FROM vip_groups WHERE organization_id = $1 AND name <> 'Gold'", org)
    await owner.execute("DELETE FROM teams WHERE organization_id = $1 AND name <> 'VIP Desk'", org)
    lists = (
        # auth, definitions
        (ATTRIBUTE_DEFINITIONS, "attributeDefinitions", 2),
        # auth, groups, their teams
        (VIP_GROUPS, "vipGroups", 3),
        # auth, teams
        (TEAMS, "teams", 2),
    )
    few = [await demo_org.agent(query) for query, _, _ in lists]

    # when: 99 more of each, every group with a team of its own
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, options,"
        " position)"
        " SELECT $1, 'custom_' || n, 'Custom ' || n, 'CUSTOM', 'SELECT', ARRAY['a', 'b'], n"
        " FROM generate_series(1, 99) AS n",
        org,
    )
    await owner.execute(
        "INSERT INTO teams (organization_id, name)"
        " SELECT $1, 'Team ' || n FROM generate_series(1, 99) AS n",
        org,
    )
    await owner.execute(
        "INSERT INTO vip_groups (organization_id, name, priority, team_id)"
        " SELECT $1, 'Group ' || n, n, t.id FROM generate_series(1, 99) AS n"
        " JOIN teams t ON t.organization_id = $1 AND t.name = 'Team ' || n",
        org,
    )
    many = [await demo_org.agent(query) for query, _, _ in lists]

    # then
    for (_, field, expected), one, hundred in zip(lists, few, many, strict=True):
        assert len(one.data[field]) == 1
        assert len(hundred.data[field]) == 100
        assert (one.statements, hundred.statements) == (expected, expected), field
