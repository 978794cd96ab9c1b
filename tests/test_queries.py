"""Every query and field of the read API on the demo organisation, checked against the
rows in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests.bulk import add_contact, add_conversation, add_message, add_note, minutes
from tests.conftest import Org

VIEWER = "{ viewer { id name email avatarUrl role } }"

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Contact { name handle }
    ... on Note { body version }
    ... on Conversation { status priority }
    ... on Message { body direction }
    ... on Agent { name email }
    ... on VipGroup { name priority }
    ... on Team { name }
    ... on AttributeDefinition { key kind }
  }
}
"""

NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

CONTACT_FIELDS = """
fragment ContactFields on Contact {
  id name handle network avatarUrl profileUrl isVip createdAt updatedAt
  validation { status crmName crmRecordId validatedAt lastLookupAt }
  vipGroup { id name priority team { id name } }
}
"""

CONTACT = (
    """
query Contact($id: ID!) { contact(id: $id) { ...ContactFields } }
"""
    + CONTACT_FIELDS
)

CONTACTS = (
    """
query Contacts($search: String, $isVip: Boolean, $network: SocialNetwork) {
  contacts(first: 100, search: $search, isVip: $isVip, network: $network) {
    totalCount
    nodes { ...ContactFields }
  }
}
"""
    + CONTACT_FIELDS
)

SEARCH = """
query Search($search: String!) {
  contacts(first: 100, search: $search) { totalCount nodes { id } }
}
"""

CONVERSATION_FIELDS = """
fragment ConversationFields on Conversation {
  id network status subject priority createdAt lastMessageAt
  contact { id }
  team { id name }
  lastMessage { id body sentAt }
}
"""

CONVERSATION = (
    """
query Conversation($id: ID!) { conversation(id: $id) { ...ConversationFields } }
"""
    + CONVERSATION_FIELDS
)

CONVERSATIONS = (
    """
query Conversations($status: ConversationStatus, $teamId: ID, $orderBy: ConversationOrder!) {
  conversations(first: 100, status: $status, teamId: $teamId, orderBy: $orderBy) {
    totalCount
    nodes { ...ConversationFields }
  }
}
"""
    + CONVERSATION_FIELDS
)

DEFAULT_ORDER = "{ conversations(first: 100) { nodes { id } } }"

QUEUE = """
query Queue($teamId: ID) {
  conversations(first: 100, teamId: $teamId) { nodes { id priority team { id } } }
}
"""

DEFINITIONS = """
query Definitions($includeArchived: Boolean!) {
  attributeDefinitions(includeArchived: $includeArchived) {
    id key label kind type options pattern description editable position archived
  }
}
"""

DEFAULT_DEFINITIONS = "{ attributeDefinitions { key } }"

VIP_GROUPS = "{ vipGroups { id name priority team { id name } } }"
TEAMS = "{ teams { id name } }"

ATTRIBUTES = """
query Attributes($id: ID!, $kinds: [AttributeKind!]) {
  contact(id: $id) {
    attributes(kinds: $kinds) {
      key label kind type value editable updatedAt updatedBy { id name }
      definition { id key position }
    }
  }
}
"""

ATTRIBUTE = """
query Attribute($id: ID!, $key: String!) {
  contact(id: $id) { attribute(key: $key) { key label kind type value editable updatedAt } }
}
"""

VALIDATION = """
query Validation($id: ID!) {
  contact(id: $id) { validation { status crmName crmRecordId validatedAt lastLookupAt } }
}
"""

PROFILE = "query Profile($id: ID!) { contact(id: $id) { handle profileUrl } }"

MESSAGES = """
query Messages($id: ID!) {
  conversation(id: $id) {
    messages(first: 100) {
      totalCount
      nodes { id body direction sentAt authorName authorProfileUrl conversation { id } }
    }
  }
}
"""

NOTE_FIELDS = """
fragment NoteFields on Note {
  id body createdAt updatedAt version
  author { id name }
  updatedBy { id name }
  contact { id }
  conversation { id }
  revisions { body editedAt editedBy { id name } }
}
"""

NOTE = (
    """
query Note($id: ID!) { node(id: $id) { ...NoteFields } }
"""
    + NOTE_FIELDS
)

CONTACT_LISTS = (
    """
query ContactLists($id: ID!) {
  contact(id: $id) {
    notes(first: 100) { totalCount nodes { ...NoteFields } }
    conversations(first: 100) { totalCount nodes { id lastMessageAt } }
  }
}
"""
    + NOTE_FIELDS
)

CONVERSATION_NOTES = (
    """
query ConversationNotes($id: ID!) {
  conversation(id: $id) { notes(first: 100) { totalCount nodes { ...NoteFields } } }
}
"""
    + NOTE_FIELDS
)

PROFILE_BASES = {
    "X": "https://x.com/",
    "INSTAGRAM": "https://www.instagram.com/",
    "FACEBOOK": "https://www.facebook.com/",
    "LINKEDIN": "https://www.linkedin.com/in/",
    "TIKTOK": "https://www.tiktok.com/@",
    "YOUTUBE": "https://www.youtube.com/@",
}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _gid(type_name: str, pk: int | None) -> str | None:
    return None if pk is None else ids.encode(type_name, pk)


async def _contact_rows(
    owner: asyncpg.Connection, organization_id: int, where: str = "true"
) -> list[asyncpg.Record]:
    return await owner.fetch(
        "SELECT c.*, g.name AS group_name, g.priority AS group_priority, g.team_id AS group_team,"
        " t.name AS group_team_name"
        " FROM contacts c"
        " LEFT JOIN vip_groups g ON g.organization_id = c.organization_id AND g.id = c.vip_group_id"
        " LEFT JOIN teams t ON t.organization_id = g.organization_id AND t.id = g.team_id"
        f" WHERE c.organization_id = $1 AND {where} ORDER BY c.name, c.id",
        organization_id,
    )


def _expected_contact(row: asyncpg.Record) -> dict[str, Any]:
    validated = row["validation_status"] == "VALIDATED"
    group = None
    if row["vip_group_id"] is not None:
        team = row["group_team"]
        group = {
            "id": ids.encode("VipGroup", row["vip_group_id"]),
            "name": row["group_name"],
            "priority": row["group_priority"],
            "team": None
            if team is None
            else {"id": ids.encode("Team", team), "name": row["group_team_name"]},
        }
    return {
        "id": ids.encode("Contact", row["id"]),
        "name": row["name"],
        "handle": row["handle"],
        "network": row["network"],
        "avatarUrl": row["avatar_url"],
        # demo handles are plain ASCII letters and digits
        "profileUrl": PROFILE_BASES[row["network"]] + row["handle"],
        "isVip": row["is_vip"],
        "createdAt": _time(row["created_at"]),
        "updatedAt": _time(row["updated_at"]),
        "validation": {
            "status": row["validation_status"],
            "crmName": "Salesforce" if validated else None,
            "crmRecordId": row["crm_record_id"],
            "validatedAt": _time(row["validated_at"]),
            "lastLookupAt": _time(row["last_lookup_at"]),
        },
        "vipGroup": group,
    }


async def _conversation_rows(
    owner: asyncpg.Connection, organization_id: int, where: str, order: str
) -> list[asyncpg.Record]:
    return await owner.fetch(
        "SELECT v.*, t.name AS team_name, m.id AS message_id, m.body AS message_body,"
        " m.sent_at AS message_sent_at"
        " FROM conversations v"
        " LEFT JOIN teams t ON t.organization_id = v.organization_id AND t.id = v.routed_team_id"
        " LEFT JOIN LATERAL (SELECT * FROM messages m WHERE m.organization_id = v.organization_id"
        "   AND m.conversation_id = v.id ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) m ON true"
        f" WHERE v.organization_id = $1 AND {where} ORDER BY {order}",
        organization_id,
    )


def _expected_conversation(row: asyncpg.Record) -> dict[str, Any]:
    team = row["routed_team_id"]
    return {
        "id": ids.encode("Conversation", row["id"]),
        "network": row["network"],
        "status": row["status"],
        "subject": row["subject"],
        "priority": row["priority"],
        "createdAt": _time(row["created_at"]),
        "lastMessageAt": _time(row["last_message_at"]),
        "contact": {"id": ids.encode("Contact", row["contact_id"])},
        "team": None
        if team is None
        else {"id": ids.encode("Team", team), "name": row["team_name"]},
        "lastMessage": None
        if row["message_id"] is None
        else {
            "id": ids.encode("Message", row["message_id"]),
            "body": row["message_body"],
            "sentAt": _time(row["message_sent_at"]),
        },
    }


async def _team_ids(owner: asyncpg.Connection, organization_id: int) -> dict[str, int]:
    rows = await owner.fetch(
        "SELECT name, id FROM teams WHERE organization_id = $1", organization_id
    )
    return {row["name"]: row["id"] for row in rows}


async def _group_ids(owner: asyncpg.Connection, organization_id: int) -> dict[str, int]:
    rows = await owner.fetch(
        "SELECT name, id FROM vip_groups WHERE organization_id = $1", organization_id
    )
    return {row["name"]: row["id"] for row in rows}


# --- viewer, node, nodes -------------------------------------------------------------------


async def test_viewer_is_the_calling_agent(demo_org: Org) -> None:
    admin = await demo_org.admin(VIEWER)
    agent = await demo_org.agent(VIEWER)

    assert admin.data == {
        "viewer": {
            "id": ids.encode("Agent", demo_org.admin_id),
            "name": "Alex Admin",
            "email": "admin@demo.example",
            "avatarUrl": None,
            "role": "ADMIN",
        }
    }
    assert agent.data == {
        "viewer": {
            "id": ids.encode("Agent", demo_org.agent_id),
            "name": "Sam Agent",
            "email": "agent@demo.example",
            "avatarUrl": None,
            "role": "AGENT",
        }
    }


async def _row(owner: asyncpg.Connection, sql: str, *args: Any) -> Any:
    row = await owner.fetchrow(sql, *args)
    assert row is not None, sql
    return row


async def test_node_resolves_every_type(owner: asyncpg.Connection, demo_org: Org) -> None:
    org = demo_org.id
    contact = await _row(
        owner, "SELECT * FROM contacts WHERE organization_id = $1 ORDER BY id LIMIT 1", org
    )
    note = await _row(
        owner, "SELECT * FROM notes WHERE organization_id = $1 ORDER BY id LIMIT 1", org
    )
    conversation = await _row(
        owner,
        "SELECT * FROM conversations WHERE organization_id = $1 AND priority > 0"
        " ORDER BY id LIMIT 1",
        org,
    )
    message = await _row(
        owner,
        "SELECT * FROM messages WHERE organization_id = $1 AND direction = 'OUTBOUND'"
        " ORDER BY id LIMIT 1",
        org,
    )
    group = await _row(
        owner, "SELECT * FROM vip_groups WHERE organization_id = $1 AND name = 'Gold'", org
    )
    team = await _row(
        owner, "SELECT * FROM teams WHERE organization_id = $1 AND name = 'Billing'", org
    )
    definition = await _row(
        owner,
        "SELECT * FROM attribute_definitions WHERE organization_id = $1 AND key = 'crm_tier'",
        org,
    )
    expected: list[tuple[str, Any, dict[str, Any]]] = [
        ("Contact", contact, {"name": contact["name"], "handle": contact["handle"]}),
        ("Note", note, {"body": note["body"], "version": 1}),
        (
            "Conversation",
            conversation,
            {"status": conversation["status"], "priority": conversation["priority"]},
        ),
        ("Message", message, {"body": message["body"], "direction": "OUTBOUND"}),
        ("Agent", {"id": demo_org.agent_id}, {"name": "Sam Agent", "email": "agent@demo.example"}),
        ("VipGroup", group, {"name": "Gold", "priority": 10}),
        ("Team", team, {"name": "Billing"}),
        ("AttributeDefinition", definition, {"key": "crm_tier", "kind": "CRM"}),
    ]

    for type_name, row, fields in expected:
        global_id = ids.encode(type_name, row["id"])

        reply = await demo_org.agent(NODE, {"id": global_id})

        assert reply.data == {"node": {"__typename": type_name, "id": global_id, **fields}}

    # nodes: all of them at once, in the order asked, with a null for a miss
    wanted = [ids.encode(t, row["id"]) for t, row, _ in reversed(expected)]
    missing = ids.encode("Contact", 10**9)
    reply = await demo_org.agent(NODES, {"ids": [*wanted, missing, wanted[0]]})
    assert reply.data == {
        "nodes": [
            *(
                {"__typename": t, "id": ids.encode(t, row["id"])}
                for t, row, _ in reversed(expected)
            ),
            None,
            {"__typename": expected[-1][0], "id": wanted[0]},
        ]
    }
    assert (await demo_org.agent(NODES, {"ids": []})).data == {"nodes": []}


# --- contacts ----------------------------------------------------------------------------


async def test_every_contact_field(owner: asyncpg.Connection, demo_org: Org) -> None:
    rows = await _contact_rows(owner, demo_org.id)
    assert len(rows) == 50

    listed = await demo_org.agent(CONTACTS, {})
    single = await demo_org.agent(CONTACT, {"id": ids.encode("Contact", rows[0]["id"])})

    expected = [_expected_contact(row) for row in rows]
    assert listed.data == {"contacts": {"totalCount": 50, "nodes": expected}}
    assert single.data == {"contact": expected[0]}
    # the demo data covers what the fields can be
    assert {c["validation"]["status"] for c in expected} == {"VALIDATED", "NOT_VALIDATED"}
    assert {c["vipGroup"]["name"] for c in expected if c["vipGroup"]} == {"Gold", "Silver"}
    assert any(c["isVip"] and c["vipGroup"] is None for c in expected)
    assert any(c["avatarUrl"] is None for c in expected)
    assert {c["network"] for c in expected} == set(PROFILE_BASES)


async def test_validation_of_validated_and_unvalidated_contacts(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    validated = await owner.fetchrow(
        "SELECT * FROM contacts WHERE organization_id = $1 AND validation_status = 'VALIDATED'"
        " ORDER BY id LIMIT 1",
        demo_org.id,
    )
    unvalidated = await owner.fetchrow(
        "SELECT * FROM contacts WHERE organization_id = $1"
        " AND validation_status = 'NOT_VALIDATED' ORDER BY id LIMIT 1",
        demo_org.id,
    )
    assert validated is not None
    assert unvalidated is not None
    yes = await demo_org.agent(VALIDATION, {"id": ids.encode("Contact", validated["id"])})
    no = await demo_org.agent(VALIDATION, {"id": ids.encode("Contact", unvalidated["id"])})

    assert yes.data["contact"]["validation"] == {
        "status": "VALIDATED",
        "crmName": "Salesforce",
        "crmRecordId": validated["crm_record_id"],
        "validatedAt": validated["validated_at"].isoformat(),
        "lastLookupAt": validated["last_lookup_at"].isoformat(),
    }
    assert validated["crm_record_id"].startswith("CRM-")
    assert no.data["contact"]["validation"] == {
        "status": "NOT_VALIDATED",
        "crmName": None,
        "crmRecordId": None,
        "validatedAt": None,
        "lastLookupAt": None,
    }


@pytest.mark.parametrize(
    ("network", "handle", "url"),
    [
        ("X", "plain_handle", "https://x.com/plain_handle"),
        ("X", "@at_sign", "https://x.com/at_sign"),
        ("INSTAGRAM", "dots.and_underscores", "https://www.instagram.com/dots.and_underscores"),
        ("FACEBOOK", "José Müller", "https://www.facebook.com/Jos%C3%A9%20M%C3%BCller"),
        ("LINKEDIN", "a/b?c=d&e#f", "https://www.linkedin.com/in/a%2Fb%3Fc%3Dd%26e%23f"),
        ("TIKTOK", "100%real", "https://www.tiktok.com/@100%25real"),
        ("YOUTUBE", "日本語", "https://www.youtube.com/@%E6%97%A5%E6%9C%AC%E8%AA%9E"),
        ("YOUTUBE", "../../admin", "https://www.youtube.com/@..%2F..%2Fadmin"),
    ],
)
async def test_profile_urls_per_network_with_encoded_handles(
    owner: asyncpg.Connection, demo_org: Org, network: str, handle: str, url: str
) -> None:
    contact_id = await add_contact(owner, demo_org.id, name="Odd", handle=handle, network=network)

    reply = await demo_org.agent(PROFILE, {"id": ids.encode("Contact", contact_id)})

    assert reply.data == {"contact": {"handle": handle, "profileUrl": url}}


async def _one_contact(owner: asyncpg.Connection, organization_id: int, where: str) -> Any:
    row = await owner.fetchrow(
        "SELECT c.*, (SELECT v.value FROM contact_attribute_values v"
        "  JOIN attribute_definitions d ON d.organization_id = v.organization_id"
        "   AND d.id = v.definition_id"
        "  WHERE v.organization_id = c.organization_id AND v.contact_id = c.id"
        "   AND d.key = 'email') AS email,"
        " (SELECT v.value FROM contact_attribute_values v"
        "  JOIN attribute_definitions d ON d.organization_id = v.organization_id"
        "   AND d.id = v.definition_id"
        "  WHERE v.organization_id = c.organization_id AND v.contact_id = c.id"
        "   AND d.key = 'phone') AS phone"
        f" FROM contacts c WHERE c.organization_id = $1 AND {where} ORDER BY c.id LIMIT 1",
        organization_id,
    )
    assert row is not None
    return row


async def _matching(owner: asyncpg.Connection, organization_id: int, needle: str) -> list[str]:
    """Contacts whose name, handle, email or phone contain `needle`, in any case."""
    rows = await owner.fetch(
        "SELECT c.id FROM contacts c WHERE c.organization_id = $1 AND ("
        " strpos(lower(c.name), lower($2)) > 0 OR strpos(lower(c.handle), lower($2)) > 0"
        " OR EXISTS (SELECT 1 FROM contact_attribute_values v JOIN attribute_definitions d"
        "   ON d.organization_id = v.organization_id AND d.id = v.definition_id"
        "   WHERE v.organization_id = c.organization_id AND v.contact_id = c.id"
        "   AND d.key IN ('email', 'phone') AND strpos(lower(v.value), lower($2)) > 0))"
        " ORDER BY c.name, c.id",
        organization_id,
        needle,
    )
    return [ids.encode("Contact", row["id"]) for row in rows]


async def test_search_matches_name_handle_email_and_phone_in_any_case(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact = await _one_contact(owner, demo_org.id, "c.id % 2 = 1")
    with_phone = await _one_contact(
        owner,
        demo_org.id,
        "EXISTS (SELECT 1 FROM contact_attribute_values v"
        " WHERE v.organization_id = c.organization_id AND v.contact_id = c.id"
        " AND v.value LIKE '+44%')",
    )
    own_id = ids.encode("Contact", contact["id"])
    needles = [
        contact["name"],
        contact["name"].upper(),
        contact["name"].split()[1].lower(),
        contact["handle"],
        contact["handle"].upper(),
        contact["email"],
        contact["email"].upper(),
        contact["email"].split("@")[0][-6:] + "@MAIL",
        with_phone["phone"],
        with_phone["phone"][4:10],
    ]

    for needle in needles:
        # when
        reply = await demo_org.agent(SEARCH, {"search": needle})

        # then
        expected = await _matching(owner, demo_org.id, needle)
        found = [node["id"] for node in reply.data["contacts"]["nodes"]]
        assert found == expected, needle
        assert reply.data["contacts"]["totalCount"] == len(expected)
    assert own_id in await _matching(owner, demo_org.id, contact["email"].upper())


async def test_search_treats_wildcards_and_accents_literally(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    percent = await add_contact(owner, demo_org.id, name="100% Real_Deal", handle="real")
    accented = await add_contact(owner, demo_org.id, name="Émile Ørsted", handle="emile")
    # Python lower-cases "İ" to two code points, PostgreSQL to one
    dotted = await add_contact(owner, demo_org.id, name="İstanbul Çarşı", handle="ist")

    cases = {
        "0% r": [percent],
        "%": [percent],
        "l_d": [percent],
        "_": [percent],
        "\\": [],
        "ÉMILE": [accented],
        "émile ørsted": [accented],
        "   émile   ": [accented],
        "İstanbul Çarşı": [dotted],
        "İSTANBUL": [dotted],
        "istanbul çarşı": [dotted],
    }
    for needle, expected in cases.items():
        reply = await demo_org.agent(SEARCH, {"search": needle})
        found = [node["id"] for node in reply.data["contacts"]["nodes"]]
        assert found == [ids.encode("Contact", pk) for pk in expected], needle


async def test_a_blank_search_matches_everything(demo_org: Org) -> None:
    for blank in ("", "   "):
        reply = await demo_org.agent(SEARCH, {"search": blank})
        assert reply.data["contacts"]["totalCount"] == 50


async def test_a_long_search_is_refused(demo_org: Org) -> None:
    ok = await demo_org.agent(SEARCH, {"search": "a" * 100})
    too_long = await demo_org.agent(SEARCH, {"search": "a" * 101})
    nul = await demo_org.agent(SEARCH, {"search": "a\x00b"})

    assert ok.data == {"contacts": {"totalCount": 0, "nodes": []}}
    assert too_long.codes == ["BAD_USER_INPUT"]
    assert nul.codes == ["BAD_USER_INPUT"]


async def test_vip_and_network_filters(owner: asyncpg.Connection, demo_org: Org) -> None:
    for variables, where in (
        ({"isVip": True}, "c.is_vip"),
        ({"isVip": False}, "NOT c.is_vip"),
        ({"network": "TIKTOK"}, "c.network = 'TIKTOK'"),
        ({"network": "X", "isVip": True}, "c.network = 'X' AND c.is_vip"),
        ({"network": "LINKEDIN", "search": "a"}, "c.network = 'LINKEDIN'"),
    ):
        rows = await _contact_rows(owner, demo_org.id, where)
        if "search" in variables:
            matching = set(await _matching(owner, demo_org.id, "a"))
            rows = [row for row in rows if ids.encode("Contact", row["id"]) in matching]
        assert rows, variables

        reply = await demo_org.agent(CONTACTS, variables)

        assert reply.data == {
            "contacts": {
                "totalCount": len(rows),
                "nodes": [_expected_contact(row) for row in rows],
            }
        }


# --- attributes ------------------------------------------------------------------------


async def test_attribute_definitions_in_position_order(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: one definition archived
    await owner.execute(
        "UPDATE attribute_definitions SET archived = true WHERE organization_id = $1"
        " AND key = 'birthday'",
        demo_org.id,
    )
    rows = await owner.fetch(
        "SELECT * FROM attribute_definitions WHERE organization_id = $1 ORDER BY position, id",
        demo_org.id,
    )
    expected = [
        {
            "id": ids.encode("AttributeDefinition", row["id"]),
            "key": row["key"],
            "label": row["label"],
            "kind": row["kind"],
            "type": row["type"],
            "options": list(row["options"]),
            "pattern": row["pattern"],
            "description": row["description"],
            "editable": row["editable"],
            "position": row["position"],
            "archived": row["archived"],
        }
        for row in rows
    ]

    # when
    live = await demo_org.agent(DEFINITIONS, {"includeArchived": False})
    every = await demo_org.agent(DEFINITIONS, {"includeArchived": True})
    default = await demo_org.agent(DEFAULT_DEFINITIONS)

    # then
    assert every.data == {"attributeDefinitions": expected}
    assert live.data == {"attributeDefinitions": [d for d in expected if not d["archived"]]}
    assert [d["key"] for d in default.data["attributeDefinitions"]] == [
        d["key"] for d in expected if not d["archived"]
    ]
    assert [d["key"] for d in expected[:3]] == ["email", "phone", "url"]
    assert {d["kind"] for d in expected} == {"COMMON", "CRM", "CUSTOM"}
    assert len(expected) == 12


async def _attribute_rows(
    owner: asyncpg.Connection, organization_id: int, contact_id: int
) -> list[asyncpg.Record]:
    return await owner.fetch(
        "SELECT d.*, v.value, v.updated_at AS value_updated_at, v.updated_by, a.name AS agent"
        " FROM attribute_definitions d"
        " LEFT JOIN contact_attribute_values v ON v.organization_id = d.organization_id"
        "  AND v.definition_id = d.id AND v.contact_id = $2"
        " LEFT JOIN agents a ON a.organization_id = v.organization_id AND a.id = v.updated_by"
        " WHERE d.organization_id = $1 AND NOT d.archived ORDER BY d.position, d.id",
        organization_id,
        contact_id,
    )


def _expected_attribute(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "key": row["key"],
        "label": row["label"],
        "kind": row["kind"],
        "type": row["type"],
        "value": row["value"],
        "editable": row["editable"],
        "updatedAt": _time(row["value_updated_at"]),
        "updatedBy": None
        if row["updated_by"] is None
        else {"id": ids.encode("Agent", row["updated_by"]), "name": row["agent"]},
        "definition": {
            "id": ids.encode("AttributeDefinition", row["id"]),
            "key": row["key"],
            "position": row["position"],
        },
    }


async def test_contact_attributes_with_values_and_nulls_in_definition_order(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: a validated contact without a phone, a value set by an agent, a definition
    # moved to the front and one archived
    contact = await _one_contact(
        owner, demo_org.id, "c.validation_status = 'VALIDATED' AND c.id % 2 = 0"
    )
    contact_id = contact["id"]
    await owner.execute(
        "UPDATE contact_attribute_values v SET updated_by = $3, value = 'Set by hand'"
        " FROM attribute_definitions d WHERE d.organization_id = v.organization_id"
        " AND d.id = v.definition_id AND v.organization_id = $1 AND v.contact_id = $2"
        " AND d.key = 'bio'",
        demo_org.id,
        contact_id,
        demo_org.agent_id,
    )
    await owner.execute(
        "UPDATE attribute_definitions SET position = -1 WHERE organization_id = $1"
        " AND key = 'language'",
        demo_org.id,
    )
    await owner.execute(
        "UPDATE attribute_definitions SET archived = true WHERE organization_id = $1"
        " AND key = 'crm_customer_id'",
        demo_org.id,
    )
    rows = await _attribute_rows(owner, demo_org.id, contact_id)
    variables = {"id": ids.encode("Contact", contact_id)}

    # when
    every = await demo_org.agent(ATTRIBUTES, variables)
    crm = await demo_org.agent(ATTRIBUTES, {**variables, "kinds": ["CRM"]})
    mixed = await demo_org.agent(ATTRIBUTES, {**variables, "kinds": ["CUSTOM", "COMMON"]})
    none = await demo_org.agent(ATTRIBUTES, {**variables, "kinds": []})

    # then
    expected = [_expected_attribute(row) for row in rows]
    assert every.data == {"contact": {"attributes": expected}}
    assert [a["key"] for a in expected][:2] == ["language", "email"]
    assert "crm_customer_id" not in [a["key"] for a in expected]
    assert any(a["value"] is None and a["updatedAt"] is None for a in expected)
    by_key = {a["key"]: a for a in expected}
    assert by_key["phone"]["value"] is None
    assert by_key["bio"]["value"] == "Set by hand"
    assert by_key["bio"]["updatedBy"] == {
        "id": ids.encode("Agent", demo_org.agent_id),
        "name": "Sam Agent",
    }
    assert by_key["crm_tier"]["editable"] is False
    assert crm.data == {"contact": {"attributes": [a for a in expected if a["kind"] == "CRM"]}}
    assert mixed.data == {"contact": {"attributes": [a for a in expected if a["kind"] != "CRM"]}}
    assert none.data == {"contact": {"attributes": []}}


async def test_one_attribute_by_key(owner: asyncpg.Connection, demo_org: Org) -> None:
    contact = await _one_contact(owner, demo_org.id, "c.id % 2 = 0")
    assert contact["phone"] is None
    await owner.execute(
        "UPDATE attribute_definitions SET archived = true WHERE organization_id = $1"
        " AND key = 'followers'",
        demo_org.id,
    )
    variables = {"id": ids.encode("Contact", contact["id"])}

    email = await demo_org.agent(ATTRIBUTE, {**variables, "key": "email"})
    phone = await demo_org.agent(ATTRIBUTE, {**variables, "key": "phone"})
    archived = await demo_org.agent(ATTRIBUTE, {**variables, "key": "followers"})
    unknown = await demo_org.agent(ATTRIBUTE, {**variables, "key": "no_such_key"})

    updated = await owner.fetchval(
        "SELECT v.updated_at FROM contact_attribute_values v JOIN attribute_definitions d"
        " ON d.organization_id = v.organization_id AND d.id = v.definition_id"
        " WHERE v.organization_id = $1 AND v.contact_id = $2 AND d.key = 'email'",
        demo_org.id,
        contact["id"],
    )
    assert email.data == {
        "contact": {
            "attribute": {
                "key": "email",
                "label": "Email",
                "kind": "COMMON",
                "type": "EMAIL",
                "value": contact["email"],
                "editable": True,
                "updatedAt": updated.isoformat(),
            }
        }
    }
    assert phone.data == {
        "contact": {
            "attribute": {
                "key": "phone",
                "label": "Phone",
                "kind": "COMMON",
                "type": "PHONE",
                "value": None,
                "editable": True,
                "updatedAt": None,
            }
        }
    }
    assert archived.data == {"contact": {"attribute": None}}
    assert unknown.data == {"contact": {"attribute": None}}


async def test_vip_groups_and_teams(owner: asyncpg.Connection, demo_org: Org) -> None:
    teams = await _team_ids(owner, demo_org.id)
    groups = await _group_ids(owner, demo_org.id)

    vip_groups = await demo_org.agent(VIP_GROUPS)
    team_list = await demo_org.agent(TEAMS)

    assert vip_groups.data == {
        "vipGroups": [
            {
                "id": ids.encode("VipGroup", groups["Gold"]),
                "name": "Gold",
                "priority": 10,
                "team": {"id": ids.encode("Team", teams["VIP Desk"]), "name": "VIP Desk"},
            },
            {
                "id": ids.encode("VipGroup", groups["Silver"]),
                "name": "Silver",
                "priority": 5,
                "team": None,
            },
        ]
    }
    assert team_list.data == {
        "teams": [
            {"id": ids.encode("Team", teams[name]), "name": name}
            for name in ("Billing", "Support", "VIP Desk")
        ]
    }


# --- conversations -------------------------------------------------------------------------


async def test_every_conversation_field(owner: asyncpg.Connection, demo_org: Org) -> None:
    rows = await _conversation_rows(owner, demo_org.id, "true", "v.last_message_at DESC, v.id DESC")
    assert len(rows) >= 50

    listed = await demo_org.agent(CONVERSATIONS, {"orderBy": "NEWEST"})
    single = await demo_org.agent(CONVERSATION, {"id": ids.encode("Conversation", rows[0]["id"])})

    expected = [_expected_conversation(row) for row in rows[:100]]
    assert listed.data == {"conversations": {"totalCount": len(rows), "nodes": expected}}
    assert single.data == {"conversation": expected[0]}
    assert {c["status"] for c in expected} == {"OPEN", "PENDING", "CLOSED"}
    assert {c["team"]["name"] for c in expected if c["team"]} == {"Support", "Billing", "VIP Desk"}
    assert any(c["team"] is None for c in expected)
    assert any(c["subject"] is None for c in expected)


async def test_conversations_by_status_and_team_in_queue_order(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    teams = await _team_ids(owner, demo_org.id)
    order = "v.priority DESC, v.last_message_at, v.id"
    for variables, where in (
        ({}, "true"),
        ({"status": "OPEN"}, "v.status = 'OPEN'"),
        ({"status": "CLOSED"}, "v.status = 'CLOSED'"),
        (
            {"teamId": ids.encode("Team", teams["Billing"])},
            f"v.routed_team_id = {teams['Billing']}",
        ),
        (
            {"teamId": ids.encode("Team", teams["VIP Desk"]), "status": "OPEN"},
            f"v.routed_team_id = {teams['VIP Desk']} AND v.status = 'OPEN'",
        ),
    ):
        rows = await _conversation_rows(owner, demo_org.id, where, order)
        assert rows, variables

        reply = await demo_org.agent(CONVERSATIONS, {**variables, "orderBy": "QUEUE"})

        assert reply.data == {
            "conversations": {
                "totalCount": len(rows),
                "nodes": [_expected_conversation(row) for row in rows[:100]],
            }
        }
    default = await demo_org.agent(DEFAULT_ORDER)
    queue = await _conversation_rows(owner, demo_org.id, "true", order)
    assert [c["id"] for c in default.data["conversations"]["nodes"]] == [
        ids.encode("Conversation", row["id"]) for row in queue[:100]
    ]


async def test_queue_order_and_routing_by_vip_group(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: a fresh queue (the demo conversations closed and filtered out by a team)
    org = demo_org.id
    teams = await _team_ids(owner, org)
    groups = await _group_ids(owner, org)
    gold, silver = groups["Gold"], groups["Silver"]  # priority 10 (team VIP Desk), 5 (none)
    queue_team = teams["Support"]
    await owner.execute("DELETE FROM conversations WHERE organization_id = $1", org)
    plain = await add_contact(owner, org, name="Plain", handle="plain")
    vip = await add_contact(owner, org, name="Vip Alone", handle="vip", is_vip=True)
    silver_vip = await add_contact(
        owner, org, name="Silver Vip", handle="silver", is_vip=True, vip_group_id=silver
    )
    gold_vip = await add_contact(
        owner, org, name="Gold Vip", handle="gold", is_vip=True, vip_group_id=gold
    )

    async def waiting(contact_id: int, minute: int) -> int:
        return await add_conversation(
            owner, org, contact_id, last_message_at=minutes(minute), team_id=queue_team
        )

    plain_new = await waiting(plain, 1)
    plain_old = await waiting(plain, 0)
    vip_new = await waiting(vip, 30)
    vip_old = await waiting(vip, 20)
    silver_new = await waiting(silver_vip, 50)
    silver_old = await waiting(silver_vip, 40)
    gold_new = await waiting(gold_vip, 90)
    gold_old = await waiting(gold_vip, 80)

    # when
    everything = await demo_org.agent(QUEUE, {})
    support = await demo_org.agent(QUEUE, {"teamId": ids.encode("Team", queue_team)})
    vip_desk = await demo_org.agent(QUEUE, {"teamId": ids.encode("Team", teams["VIP Desk"])})

    # then: groups by priority, VIPs without a group next, then everyone else; within a
    # priority the longest waiting first
    def entry(pk: int, priority: int, team: int) -> dict[str, Any]:
        return {
            "id": ids.encode("Conversation", pk),
            "priority": priority,
            "team": {"id": ids.encode("Team", team)},
        }

    desk = teams["VIP Desk"]
    expected = [
        entry(gold_old, 11, desk),
        entry(gold_new, 11, desk),
        entry(silver_old, 6, queue_team),
        entry(silver_new, 6, queue_team),
        entry(vip_old, 1, queue_team),
        entry(vip_new, 1, queue_team),
        entry(plain_old, 0, queue_team),
        entry(plain_new, 0, queue_team),
    ]
    assert everything.data == {"conversations": {"nodes": expected}}
    # the gold group's team receives its VIPs' conversations, away from their own team
    assert vip_desk.data == {"conversations": {"nodes": expected[:2]}}
    assert support.data == {"conversations": {"nodes": expected[2:]}}

    # when: the plain contact is promoted into Gold and the silver group outranks it
    await owner.execute(
        "UPDATE contacts SET is_vip = true, vip_group_id = $3 WHERE organization_id = $1"
        " AND id = $2",
        org,
        plain,
        gold,
    )
    await owner.execute(
        "UPDATE vip_groups SET priority = 20 WHERE organization_id = $1 AND id = $2", org, silver
    )
    after = await demo_org.agent(QUEUE, {})

    # then
    assert [node["id"] for node in after.data["conversations"]["nodes"]] == [
        ids.encode("Conversation", pk)
        for pk in (
            silver_old,
            silver_new,
            plain_old,
            plain_new,
            gold_old,
            gold_new,
            vip_old,
            vip_new,
        )
    ]


# --- messages and notes --------------------------------------------------------------------


async def test_messages_oldest_first_with_the_authors_profile_on_inbound_ones(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: a conversation with messages both ways, one pair sent at the same moment
    org = demo_org.id
    contact = await add_contact(owner, org, name="Writer", handle="wri ter", network="TIKTOK")
    conversation = await add_conversation(owner, org, contact, last_message_at=minutes(9))
    first = await add_message(owner, org, conversation, sent_at=minutes(1), body="Hi")
    answer = await add_message(
        owner, org, conversation, sent_at=minutes(5), direction="OUTBOUND", body="Hello!"
    )
    tie_a = await add_message(owner, org, conversation, sent_at=minutes(9), body="One")
    tie_b = await add_message(owner, org, conversation, sent_at=minutes(9), body="Two")
    global_conversation = ids.encode("Conversation", conversation)

    # when
    reply = await demo_org.agent(MESSAGES, {"id": global_conversation})

    # then
    url = "https://www.tiktok.com/@wri%20ter"
    expected = [
        (first, "Hi", "INBOUND", minutes(1), url),
        (answer, "Hello!", "OUTBOUND", minutes(5), None),
        (tie_a, "One", "INBOUND", minutes(9), url),
        (tie_b, "Two", "INBOUND", minutes(9), url),
    ]
    assert reply.data == {
        "conversation": {
            "messages": {
                "totalCount": 4,
                "nodes": [
                    {
                        "id": ids.encode("Message", pk),
                        "body": body,
                        "direction": direction,
                        "sentAt": sent.isoformat(),
                        "authorName": "Someone",
                        "authorProfileUrl": profile,
                        "conversation": {"id": global_conversation},
                    }
                    for pk, body, direction, sent, profile in expected
                ],
            }
        }
    }
    last = await demo_org.agent(CONVERSATION, {"id": global_conversation})
    assert last.data["conversation"]["lastMessage"]["id"] == ids.encode("Message", tie_b)


async def test_demo_messages_link_inbound_authors_to_their_profile(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    rows = await owner.fetch(
        "SELECT m.*, c.network, c.handle FROM messages m"
        " JOIN conversations v"
        "  ON v.organization_id = m.organization_id AND v.id = m.conversation_id"
        " JOIN contacts c ON c.organization_id = v.organization_id AND c.id = v.contact_id"
        " WHERE m.organization_id = $1 AND m.conversation_id = ("
        "  SELECT conversation_id FROM messages WHERE organization_id = $1"
        "  GROUP BY conversation_id HAVING count(*) >= 3 ORDER BY conversation_id LIMIT 1)"
        " ORDER BY m.sent_at, m.id",
        demo_org.id,
    )
    assert len(rows) >= 3

    reply = await demo_org.agent(
        MESSAGES, {"id": ids.encode("Conversation", rows[0]["conversation_id"])}
    )

    nodes = reply.data["conversation"]["messages"]["nodes"]
    assert [(n["id"], n["direction"], n["authorName"], n["authorProfileUrl"]) for n in nodes] == [
        (
            ids.encode("Message", row["id"]),
            row["direction"],
            row["author_name"],
            PROFILE_BASES[row["network"]] + row["handle"]
            if row["direction"] == "INBOUND"
            else None,
        )
        for row in rows
    ]
    assert {n["direction"] for n in nodes} == {"INBOUND", "OUTBOUND"}


def _expected_note(
    row: asyncpg.Record, agents: dict[int, str], revisions: list[asyncpg.Record]
) -> dict[str, Any]:
    def agent(pk: int | None) -> dict[str, str] | None:
        return None if pk is None else {"id": ids.encode("Agent", pk), "name": agents[pk]}

    return {
        "id": ids.encode("Note", row["id"]),
        "body": row["body"],
        "createdAt": _time(row["created_at"]),
        "updatedAt": _time(row["updated_at"]),
        "version": row["version"],
        "author": agent(row["author_id"]),
        "updatedBy": agent(row["updated_by"]),
        "contact": None
        if row["contact_id"] is None
        else {"id": ids.encode("Contact", row["contact_id"])},
        "conversation": None
        if row["conversation_id"] is None
        else {"id": ids.encode("Conversation", row["conversation_id"])},
        "revisions": [
            {
                "body": revision["body"],
                "editedAt": _time(revision["edited_at"]),
                "editedBy": agent(revision["edited_by"]),
            }
            for revision in revisions
            if revision["note_id"] == row["id"]
        ],
    }


async def test_notes_of_contacts_and_conversations(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: the demo notes of a contact and of a conversation, one of them edited twice
    # (revisions oldest first) and one deleted
    org = demo_org.id
    contact_id = await owner.fetchval(
        "SELECT contact_id FROM notes WHERE organization_id = $1 AND contact_id IS NOT NULL"
        " GROUP BY contact_id HAVING count(*) >= 3 ORDER BY contact_id LIMIT 1",
        org,
    )
    conversation_id = await owner.fetchval(
        "SELECT conversation_id FROM notes WHERE organization_id = $1"
        " AND conversation_id IS NOT NULL ORDER BY id LIMIT 1",
        org,
    )
    assert contact_id is not None
    assert conversation_id is not None
    edited = await owner.fetchval(
        "SELECT id FROM notes WHERE organization_id = $1 AND contact_id = $2"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        org,
        contact_id,
    )
    await owner.execute(
        "INSERT INTO note_revisions (organization_id, note_id, body, edited_at, edited_by)"
        " VALUES ($1, $2, 'First words', $3, $4), ($1, $2, 'Second words', $5, $6)",
        org,
        edited,
        minutes(1),
        demo_org.admin_id,
        minutes(2),
        demo_org.agent_id,
    )
    await owner.execute(
        "UPDATE notes SET version = 3, updated_at = $3, updated_by = $4"
        " WHERE organization_id = $1 AND id = $2",
        org,
        edited,
        minutes(2),
        demo_org.agent_id,
    )
    deleted = await add_note(
        owner, org, demo_org.admin_id, contact_id=contact_id, created_at=minutes(10**6)
    )
    await owner.execute(
        "UPDATE notes SET deleted_at = now(), deleted_by = $3 WHERE organization_id = $1"
        " AND id = $2",
        org,
        deleted,
        demo_org.admin_id,
    )
    agents = {demo_org.admin_id: "Alex Admin", demo_org.agent_id: "Sam Agent"}
    revisions = await owner.fetch(
        "SELECT * FROM note_revisions WHERE organization_id = $1 ORDER BY id", org
    )
    contact_notes = await owner.fetch(
        "SELECT * FROM notes WHERE organization_id = $1 AND contact_id = $2"
        " AND deleted_at IS NULL ORDER BY created_at DESC, id DESC",
        org,
        contact_id,
    )
    conversation_notes = await owner.fetch(
        "SELECT * FROM notes WHERE organization_id = $1 AND conversation_id = $2"
        " AND deleted_at IS NULL ORDER BY created_at DESC, id DESC",
        org,
        conversation_id,
    )
    conversations = await owner.fetch(
        "SELECT id, last_message_at FROM conversations WHERE organization_id = $1"
        " AND contact_id = $2 ORDER BY last_message_at DESC, id DESC",
        org,
        contact_id,
    )

    # when
    of_contact = await demo_org.agent(CONTACT_LISTS, {"id": ids.encode("Contact", contact_id)})
    of_conversation = await demo_org.agent(
        CONVERSATION_NOTES, {"id": ids.encode("Conversation", conversation_id)}
    )
    single = await demo_org.agent(NOTE, {"id": ids.encode("Note", edited)})
    gone = await demo_org.agent(NOTE, {"id": ids.encode("Note", deleted)})

    # then
    expected_contact_notes = [_expected_note(r, agents, revisions) for r in contact_notes]
    assert of_contact.data == {
        "contact": {
            "notes": {"totalCount": len(contact_notes), "nodes": expected_contact_notes},
            "conversations": {
                "totalCount": len(conversations),
                "nodes": [
                    {
                        "id": ids.encode("Conversation", row["id"]),
                        "lastMessageAt": _time(row["last_message_at"]),
                    }
                    for row in conversations
                ],
            },
        }
    }
    assert of_conversation.data == {
        "conversation": {
            "notes": {
                "totalCount": len(conversation_notes),
                "nodes": [_expected_note(r, agents, revisions) for r in conversation_notes],
            }
        }
    }
    assert single.data == {"node": expected_contact_notes[0]}
    note = expected_contact_notes[0]
    assert [r["body"] for r in note["revisions"]] == ["First words", "Second words"]
    assert note["updatedBy"] == {"id": ids.encode("Agent", demo_org.agent_id), "name": "Sam Agent"}
    assert note["version"] == 3
    # a note never edited has no revisions and no editor; a deleted note is nowhere
    assert expected_contact_notes[-1]["revisions"] == []
    assert expected_contact_notes[-1]["updatedBy"] is None
    assert gone.data == {"node": None}
    assert ids.encode("Note", deleted) not in {n["id"] for n in expected_contact_notes}
