"""No request sees another organisation's data: its ids answer exactly like ids that do
not exist, through every entry point. Malformed ids are null, too many ids and missing
credentials are errors."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers import ids
from resolvers.loaders import DEFINITIONS
from tests.bulk import add_contact
from tests.conftest import GraphQL, Org, Reply

NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
CONTACT = "query Contact($id: ID!) { contact(id: $id) { id name } }"
CONVERSATION = "query Conversation($id: ID!) { conversation(id: $id) { id status } }"

CONVERSATIONS_OF_TEAM = """
query Team($teamId: ID) {
  conversations(first: 100, teamId: $teamId) { totalCount nodes { id } }
}
"""

SEARCH = """
query Search($search: String!) {
  contacts(first: 100, search: $search) { totalCount nodes { id name } }
}
"""

ATTRIBUTE = """
query Attribute($id: ID!, $key: String!) { contact(id: $id) { attribute(key: $key) { key } } }
"""

# Every list and nested field, in two queries that stay within the cost limit.
EVERYTHING_LISTED = """
query Lists {
  viewer { id }
  attributeDefinitions(includeArchived: true) { id }
  vipGroups { id team { id } }
  teams { id }
  contacts(first: 100) { nodes { id vipGroup { id team { id } } } }
  conversations(first: 100) {
    nodes { id contact { id } team { id } lastMessage { id conversation { id } } }
  }
}
"""

EVERYTHING_NESTED = """
query Nested($after: String) {
  contacts(first: 20, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      attributes { definition { id } updatedBy { id } }
      notes(first: 3) {
        nodes {
          id author { id } updatedBy { id } revisions { editedBy { id } }
          contact { id } conversation { id }
        }
      }
      conversations(first: 5) {
        nodes {
          id contact { id } team { id }
          messages(first: 5) { nodes { id conversation { id } } }
          notes(first: 5) { nodes { id author { id } conversation { id } } }
        }
      }
    }
  }
}
"""

VIEWER = "{ viewer { id } }"

# Every Node type and the table holding it.
TABLES = {
    "Contact": "contacts",
    "Note": "notes",
    "Conversation": "conversations",
    "Message": "messages",
    "Agent": "agents",
    "VipGroup": "vip_groups",
    "Team": "teams",
    "AttributeDefinition": "attribute_definitions",
}


async def _one_of_each(owner: asyncpg.Connection, organization_id: int) -> dict[str, str]:
    """A global id of every Node type, of the organisation."""
    found = {}
    for type_name, table in TABLES.items():
        pk = await owner.fetchval(
            f"SELECT min(id) FROM {table} WHERE organization_id = $1", organization_id
        )
        assert pk is not None, table
        found[type_name] = ids.encode(type_name, pk)
    return found


async def _missing_of_each(owner: asyncpg.Connection) -> dict[str, str]:
    """A global id of every Node type that no organisation has."""
    found = {}
    for type_name, table in TABLES.items():
        pk = await owner.fetchval(f"SELECT max(id) + 1000 FROM {table}")
        found[type_name] = ids.encode(type_name, pk)
    return found


async def _all_ids(owner: asyncpg.Connection, organization_id: int) -> set[str]:
    found: set[str] = set()
    for type_name, table in TABLES.items():
        rows = await owner.fetch(
            f"SELECT id FROM {table} WHERE organization_id = $1", organization_id
        )
        found |= {ids.encode(type_name, row["id"]) for row in rows}
    return found


def _ids_in(value: Any) -> set[str]:
    """Every `id` anywhere in a response."""
    if isinstance(value, dict):
        own = {value["id"]} if isinstance(value.get("id"), str) else set()
        return own.union(*(_ids_in(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_ids_in(item) for item in value))
    return set()


def _same_answer(a: Reply, b: Reply) -> None:
    """Two replies a client (or a timer counting statements) cannot tell apart."""
    assert (a.status, a.body, a.statements) == (b.status, b.body, b.statements)


async def test_foreign_ids_answer_like_missing_ones_everywhere(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    # given
    foreign = await _one_of_each(owner, other_org.id)
    missing = await _missing_of_each(owner)

    async def call(query: str, variables: dict[str, Any]) -> Reply:
        # Every request as the first of a worker (which keeps the organisation's attribute
        # definitions after it): the statement counts then differ by the id alone.
        DEFINITIONS.clear()
        return await demo_org.agent(query, variables)

    for type_name in TABLES:
        # when
        node_foreign = await call(NODE, {"id": foreign[type_name]})
        node_missing = await call(NODE, {"id": missing[type_name]})
        nodes_foreign = await call(NODES, {"ids": [foreign[type_name]]})
        nodes_missing = await call(NODES, {"ids": [missing[type_name]]})

        # then
        assert node_foreign.data == {"node": None}
        _same_answer(node_foreign, node_missing)
        assert nodes_foreign.data == {"nodes": [None]}
        _same_answer(nodes_foreign, nodes_missing)

    contact_foreign = await call(CONTACT, {"id": foreign["Contact"]})
    assert contact_foreign.data == {"contact": None}
    _same_answer(contact_foreign, await call(CONTACT, {"id": missing["Contact"]}))
    conversation_foreign = await call(CONVERSATION, {"id": foreign["Conversation"]})
    assert conversation_foreign.data == {"conversation": None}
    _same_answer(conversation_foreign, await call(CONVERSATION, {"id": missing["Conversation"]}))


async def test_the_owner_of_a_foreign_id_does_see_it(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    # The ids of the previous test are real ones: their organisation resolves each.
    theirs = await _one_of_each(owner, other_org.id)

    reply = await other_org.agent(NODES, {"ids": list(theirs.values())})

    assert reply.data == {
        "nodes": [{"__typename": t, "id": global_id} for t, global_id in theirs.items()]
    }


async def test_nodes_mixes_own_foreign_and_missing_ids_in_order(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    own = await _one_of_each(owner, demo_org.id)
    foreign = await _one_of_each(owner, other_org.id)
    missing = await _missing_of_each(owner)

    reply = await demo_org.agent(
        NODES,
        {"ids": [own["Contact"], foreign["Contact"], missing["Note"], own["Team"], own["Contact"]]},
    )

    assert reply.data == {
        "nodes": [
            {"__typename": "Contact", "id": own["Contact"]},
            None,
            None,
            {"__typename": "Team", "id": own["Team"]},
            {"__typename": "Contact", "id": own["Contact"]},
        ]
    }


async def test_no_list_or_nested_field_reaches_another_organisation(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    # given: a few notes edited, so revisions and editors appear too
    await owner.execute(
        "INSERT INTO note_revisions (organization_id, note_id, body, edited_by)"
        " SELECT organization_id, id, 'before', author_id FROM notes"
    )
    await owner.execute(
        "UPDATE contact_attribute_values v SET updated_by = a.id FROM agents a"
        " WHERE a.organization_id = v.organization_id"
    )
    own = await _all_ids(owner, demo_org.id)
    foreign = await _all_ids(owner, other_org.id)

    # when
    listed = await demo_org.agent(EVERYTHING_LISTED)
    pages = []
    after = None
    while True:
        page = (await demo_org.agent(EVERYTHING_NESTED, {"after": after})).data
        pages.append(page)
        if not page["contacts"]["pageInfo"]["hasNextPage"]:
            break
        after = page["contacts"]["pageInfo"]["endCursor"]

    # then: only own ids, and some of every type
    seen = _ids_in([listed.data, pages])
    assert seen <= own
    assert not seen & foreign
    for type_name in TABLES:
        assert any(ids.decode_as(global_id, type_name) for global_id in seen), type_name
    contacts = listed.data["contacts"]["nodes"]
    assert {c["id"] for c in contacts} == {i for i in own if ids.decode_as(i, "Contact")}
    assert len(contacts) == 50


async def test_search_does_not_find_foreign_contacts(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    await add_contact(owner, other_org.id, name="Foreign Only", handle="foreignonly")
    mine = await add_contact(owner, demo_org.id, name="Homegrown Only", handle="homegrown")

    foreign = await demo_org.agent(SEARCH, {"search": "foreign only"})
    own = await demo_org.agent(SEARCH, {"search": "only"})

    assert foreign.data == {"contacts": {"totalCount": 0, "nodes": []}}
    assert own.data == {
        "contacts": {
            "totalCount": 1,
            "nodes": [{"id": ids.encode("Contact", mine), "name": "Homegrown Only"}],
        }
    }


async def test_a_foreign_team_filters_like_a_missing_one(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    foreign = await _one_of_each(owner, other_org.id)
    missing = await _missing_of_each(owner)
    # the foreign organisation's team does receive conversations there
    team = await owner.fetchval(
        "SELECT routed_team_id FROM conversations WHERE organization_id = $1"
        " AND routed_team_id IS NOT NULL LIMIT 1",
        other_org.id,
    )
    assert team is not None
    foreign_team = ids.encode("Team", team)
    assert (await other_org.agent(CONVERSATIONS_OF_TEAM, {"teamId": foreign_team})).data[
        "conversations"
    ]["totalCount"] > 0

    replies = [
        await demo_org.agent(CONVERSATIONS_OF_TEAM, {"teamId": team_id})
        for team_id in (foreign_team, foreign["Team"], missing["Team"], "not a team id")
    ]

    for reply in replies:
        assert reply.data == {"conversations": {"totalCount": 0, "nodes": []}}
        _same_answer(reply, replies[0])


async def test_a_foreign_attribute_key_is_unknown(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type)"
        " VALUES ($1, 'theirs_only', 'Theirs', 'CUSTOM', 'TEXT')",
        other_org.id,
    )
    contact = (await _one_of_each(owner, demo_org.id))["Contact"]

    reply = await demo_org.agent(ATTRIBUTE, {"id": contact, "key": "theirs_only"})

    assert reply.data == {"contact": {"attribute": None}}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MALFORMED_IDS = [
    "",
    " ",
    "x",
    "!!!!",
    "Contact:1",
    _b64("Contact:1") + "=",
    _b64("Contact:1") + "!",
    _b64("Contact:01"),
    _b64("Contact:"),
    _b64("Contact:-1"),
    _b64("Contact:+1"),
    _b64("Contact:1.0"),
    _b64("Contact:abc"),
    _b64("Contact:1:2"),
    _b64("Contact: 1"),
    _b64("Contact:１"),
    _b64("Contact:99999999999999999999"),
    _b64(":1"),
    _b64("Organization:1"),
    _b64("contact:1"),
    _b64("Contact:1" + "0" * 100),
    "A" * 5000,
    base64.urlsafe_b64encode(b"\xff\xfe:1").decode(),
]


@pytest.mark.parametrize("bad", MALFORMED_IDS)
async def test_malformed_ids_are_null(demo_org: Org, bad: str) -> None:
    for query, field in ((NODE, "node"), (CONTACT, "contact"), (CONVERSATION, "conversation")):
        reply = await demo_org.agent(query, {"id": bad})
        assert reply.status == 200
        assert reply.data == {field: None}
    reply = await demo_org.agent(NODES, {"ids": [bad]})
    assert reply.data == {"nodes": [None]}


async def test_the_canonical_spelling_of_an_id_resolves(demo_org: Org) -> None:
    # the well-formed neighbour of the malformed ids above
    reply = await demo_org.agent(CONTACT, {"id": _b64("Contact:1")})
    assert reply.data["contact"]["id"] == _b64("Contact:1")


async def test_ids_of_another_type_are_null(owner: asyncpg.Connection, demo_org: Org) -> None:
    # given: a note and a conversation whose primary keys are also a contact's
    contact_pk = await owner.fetchval(
        "SELECT c.id FROM contacts c WHERE c.organization_id = $1"
        " AND EXISTS (SELECT 1 FROM notes n WHERE n.organization_id = $1 AND n.id = c.id)"
        " AND EXISTS (SELECT 1 FROM conversations v WHERE v.organization_id = $1 AND v.id = c.id)"
        " LIMIT 1",
        demo_org.id,
    )
    assert contact_pk is not None

    as_note = await demo_org.agent(CONTACT, {"id": ids.encode("Note", contact_pk)})
    as_contact = await demo_org.agent(CONVERSATION, {"id": ids.encode("Contact", contact_pk)})
    itself = await demo_org.agent(CONTACT, {"id": ids.encode("Contact", contact_pk)})

    assert as_note.data == {"contact": None}
    assert as_contact.data == {"conversation": None}
    assert itself.data["contact"]["id"] == ids.encode("Contact", contact_pk)


async def test_nodes_takes_at_most_one_hundred_ids(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact = (await _one_of_each(owner, demo_org.id))["Contact"]

    hundred = await demo_org.agent(NODES, {"ids": [contact] * 100})
    too_many = await demo_org.agent(NODES, {"ids": [contact] * 101})

    assert len(hundred.data["nodes"]) == 100
    assert too_many.codes == ["BAD_USER_INPUT"]
    assert too_many.body["data"] is None


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert "data" not in body
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer ica_not-a-token-anyone-holds",
        "Basic YWRtaW46YWRtaW4=",
        "Token ica_x",
        "Bearer " + "x" * 600,
    ],
)
async def test_requests_without_a_valid_token_get_401(
    client: httpx.AsyncClient, demo_org: Org, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await client.post("/graphql", json={"query": VIEWER}, headers=headers)

    _assert_unauthenticated(response)


async def test_the_scheme_is_case_insensitive(client: httpx.AsyncClient, demo_org: Org) -> None:
    token = demo_org.agent.token
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"id": ids.encode("Agent", demo_org.agent_id)}}


async def test_a_revoked_token_gets_401(
    owner: asyncpg.Connection, client: httpx.AsyncClient, demo_org: Org
) -> None:
    # given
    await owner.execute(
        "UPDATE agent_tokens SET revoked_at = now() WHERE organization_id = $1 AND agent_id = $2",
        demo_org.id,
        demo_org.agent_id,
    )

    # when
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {demo_org.agent.token}"},
    )

    # then: the agent is out, the admin still in
    _assert_unauthenticated(response)
    assert (await demo_org.admin(VIEWER)).data == {
        "viewer": {"id": ids.encode("Agent", demo_org.admin_id)}
    }


async def test_a_token_of_another_organisation_reads_that_organisation(
    demo_org: Org, other_org: Org
) -> None:
    # the same query answers for the token's own organisation only
    theirs: GraphQL = other_org.agent

    reply = await theirs(VIEWER)

    assert reply.data == {"viewer": {"id": ids.encode("Agent", other_org.agent_id)}}
