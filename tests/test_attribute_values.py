"""setContactAttribute and clearContactAttribute: what a change stores and answers, the
CRM outbox, refusals that change nothing, and several changes in one operation."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests.attributes import (
    OUTBOX,
    attribute,
    clear_value,
    definition,
    first_contact,
    read_contact,
    set_value,
)
from tests.conftest import GraphQL, Org

SET_AND_LIST = """
mutation ($input: SetContactAttributeInput!) {
  setContactAttribute(input: $input) { contact { attributes { key value } } }
}
"""

SEARCH = "query ($search: String!) { contacts(search: $search) { nodes { id } } }"

# Each payload reads the contact's attributes through the request's loaders, which must not
# answer what an earlier mutation of the same operation made stale.
VALUES = """
fragment values on Contact {
  updatedAt
  conversations(first: 1) { nodes { contact { updatedAt } } }
  location: attribute(key: "location") { value }
  bio: attribute(key: "bio") { value }
  attributes { key value }
}
"""

TWO_SETS_IN_ONE_OPERATION = f"""
mutation ($contactId: ID!) {{
  unchanged: clearContactAttribute(input: {{contactId: $contactId, key: "birthday"}}) {{
    contact {{ ...values }}
  }}
  location: setContactAttribute(input: {{contactId: $contactId, key: "location", value: "Oslo"}}) {{
    contact {{ ...values }}
  }}
  bio: setContactAttribute(input: {{contactId: $contactId, key: "bio", value: "Skier"}}) {{
    contact {{ ...values }}
  }}
}}
{VALUES}
"""

SET_AND_CLEAR_IN_ONE_OPERATION = f"""
mutation ($contactId: ID!) {{
  set: setContactAttribute(input: {{contactId: $contactId, key: "location", value: "Oslo"}}) {{
    contact {{ ...values }}
  }}
  clear: clearContactAttribute(input: {{contactId: $contactId, key: "location"}}) {{
    contact {{ ...values }}
  }}
}}
{VALUES}
"""

DEFINITION_CHANGES_IN_ONE_OPERATION = """
mutation ($contactId: ID!, $bioId: ID!) {
  before: setContactAttribute(input: {contactId: $contactId, key: "location", value: "Oslo"}) {
    contact { ...labels }
  }
  created: createAttributeDefinition(input: {key: "shoe_size", label: "Shoe size", type: NUMBER}) {
    attributeDefinition { key }
  }
  updated: updateAttributeDefinition(input: {id: $bioId, label: "About"}) {
    attributeDefinition { label }
  }
  after: setContactAttribute(input: {contactId: $contactId, key: "shoe_size", value: "42"}) {
    contact { ...labels }
  }
}
fragment labels on Contact { attributes { key label value } }
"""


async def test_set_returns_the_attribute_and_the_contact(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    before = await read_contact(demo_org.agent, contact)

    payload = await set_value(demo_org.agent, contact, "location", " Porto ")

    assert payload["userErrors"] == []
    changed = payload["attribute"]
    assert changed["key"] == "location"
    assert changed["label"] == "Location"
    assert changed["kind"] == "CUSTOM"
    assert changed["value"] == "Porto"
    assert changed["editable"] is True
    assert changed["updatedBy"] == {
        "id": ids.encode("Agent", demo_org.agent_id),
        "name": "Sam Agent",
    }
    assert changed["updatedAt"] >= before["updatedAt"]
    assert payload["contact"]["id"] == contact
    assert payload["contact"]["updatedAt"] > before["updatedAt"]
    after = await read_contact(demo_org.admin, contact)
    assert attribute(after, "location") == changed
    assert after["updatedAt"] == payload["contact"]["updatedAt"]


async def test_the_payload_contact_lists_the_new_value(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    reply = await demo_org.agent(
        SET_AND_LIST, {"input": {"contactId": contact, "key": "location", "value": "Oslo"}}
    )
    listed = reply.data["setContactAttribute"]["contact"]["attributes"]
    assert {"key": "location", "value": "Oslo"} in listed


async def test_setting_the_same_value_again_changes_nothing(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    first = await set_value(demo_org.agent, contact, "language", "German")
    before = await read_contact(demo_org.agent, contact)

    again = await set_value(demo_org.admin, contact, "language", "german")

    assert again["userErrors"] == []
    assert again["attribute"] == first["attribute"]
    assert again["attribute"]["updatedBy"]["name"] == "Sam Agent"
    assert again["contact"] == first["contact"]
    assert await read_contact(demo_org.agent, contact) == before


async def test_clear_removes_the_value_and_says_who_cleared_it(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    email = attribute(await read_contact(demo_org.agent, contact), "email")["value"]
    assert email is not None
    assert (await demo_org.agent(SEARCH, {"search": email})).data["contacts"]["nodes"] == [
        {"id": contact}
    ]

    payload = await clear_value(demo_org.admin, contact, "email")

    assert payload["userErrors"] == []
    cleared = payload["attribute"]
    assert cleared["value"] is None
    assert cleared["updatedBy"] == {
        "id": ids.encode("Agent", demo_org.admin_id),
        "name": "Alex Admin",
    }
    assert cleared["updatedAt"] == payload["contact"]["updatedAt"]
    after = await read_contact(demo_org.agent, contact)
    assert attribute(after, "email") == cleared
    assert (await demo_org.agent(SEARCH, {"search": email})).data["contacts"]["nodes"] == []
    again = await set_value(demo_org.agent, contact, "email", email)
    assert again["attribute"]["value"] == email


async def test_clearing_an_unset_value_changes_nothing(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    before = await read_contact(demo_org.agent, contact)
    assert attribute(before, "birthday")["value"] is None

    payload = await clear_value(demo_org.agent, contact, "birthday")

    assert payload["userErrors"] == []
    assert payload["attribute"] == attribute(before, "birthday")
    assert payload["contact"] == {"id": contact, "updatedAt": before["updatedAt"]}
    assert await read_contact(demo_org.agent, contact) == before


async def test_crm_edits_are_recorded_in_the_outbox(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact = await first_contact(demo_org)
    contact_id = ids.decode_as(contact, "Contact")
    definition_id = await owner.fetchval(
        "SELECT id FROM attribute_definitions WHERE organization_id = $1"
        " AND key = 'crm_account_manager'",
        demo_org.id,
    )

    first = await set_value(demo_org.agent, contact, "crm_account_manager", "Jane@Example.COM")
    same = await set_value(demo_org.admin, contact, "crm_account_manager", "Jane@example.com")
    second = await set_value(demo_org.admin, contact, "crm_account_manager", "bob@example.com")
    refused = await set_value(demo_org.agent, contact, "crm_account_manager", "not an email")
    await set_value(demo_org.agent, contact, "bio", "Not a CRM attribute")
    cleared = await clear_value(demo_org.agent, contact, "crm_account_manager")
    await clear_value(demo_org.agent, contact, "crm_account_manager")

    assert first["attribute"]["kind"] == "CRM"
    assert same["attribute"] == first["attribute"]
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_VALUE"]
    rows = [dict(row) for row in await owner.fetch(OUTBOX, demo_org.id)]
    common = {"contact_id": contact_id, "definition_id": definition_id}
    common |= {"key": "crm_account_manager", "delivered_at": None}
    assert [
        {k: row[k] for k in (*common, "old_value", "new_value", "agent_id")} for row in rows
    ] == [
        {
            **common,
            "old_value": None,
            "new_value": "Jane@example.com",
            "agent_id": demo_org.agent_id,
        },
        {
            **common,
            "old_value": "Jane@example.com",
            "new_value": "bob@example.com",
            "agent_id": demo_org.admin_id,
        },
        {
            **common,
            "old_value": "bob@example.com",
            "new_value": None,
            "agent_id": demo_org.agent_id,
        },
    ]
    # each record carries the time of its change, as the attribute reported it
    for row, payload in zip(rows, (first, second, cleared), strict=True):
        assert row["created_at"].isoformat() == payload["attribute"]["updatedAt"]


async def test_non_crm_edits_are_not_sent_to_the_crm(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact = await first_contact(demo_org)
    await set_value(demo_org.agent, contact, "location", "Lima")
    await set_value(demo_org.agent, contact, "email", "lima@example.com")
    await clear_value(demo_org.agent, contact, "location")
    assert await owner.fetch(OUTBOX, demo_org.id) == []


async def refused(
    caller: GraphQL, contact: str, key: str, value: str | None = "x"
) -> list[dict[str, Any]]:
    """The user errors of setting (or, for a None value, clearing) the attribute."""
    payload = (
        await clear_value(caller, contact, key)
        if value is None
        else await set_value(caller, contact, key, value)
    )
    assert payload["contact"] is None
    assert payload["attribute"] is None
    errors: list[dict[str, Any]] = payload["userErrors"]
    return errors


@pytest.mark.parametrize("clear", [False, True], ids=["set", "clear"])
async def test_unknown_keys_are_not_found(demo_org: Org, other_org: Org, clear: bool) -> None:
    contact = await first_contact(demo_org)
    before = await read_contact(demo_org.agent, contact)
    value = None if clear else "x"
    not_found = [
        {"field": ["input", "key"], "message": "No attribute has this key", "code": "NOT_FOUND"}
    ]
    for key in ("no_such_key", "Bio", "", "bio\x00", "x" * 64, "name"):
        assert await refused(demo_org.agent, contact, key, value) == not_found, key
    assert await read_contact(demo_org.agent, contact) == before


async def test_keys_of_another_organisation_are_not_found(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type)"
        " VALUES ($1, 'other_only', 'Other only', 'CUSTOM', 'TEXT')",
        other_org.id,
    )
    contact = await first_contact(demo_org)
    before = await read_contact(demo_org.agent, contact)

    errors = await refused(demo_org.agent, contact, "other_only")

    assert [(e["field"], e["code"]) for e in errors] == [(["input", "key"], "NOT_FOUND")]
    assert await read_contact(demo_org.agent, contact) == before


@pytest.mark.parametrize("clear", [False, True], ids=["set", "clear"])
async def test_read_only_attributes_are_refused(
    owner: asyncpg.Connection, demo_org: Org, clear: bool
) -> None:
    await owner.execute(
        "UPDATE attribute_definitions SET editable = false WHERE organization_id = $1"
        " AND key = 'location'",
        demo_org.id,
    )
    contact = await first_contact(demo_org)
    await owner.execute(
        "INSERT INTO contact_attribute_values (organization_id, contact_id, definition_id, value)"
        " SELECT $1, $2, id, 'Gold' FROM attribute_definitions"
        " WHERE organization_id = $1 AND key = 'crm_tier'"
        " ON CONFLICT (organization_id, contact_id, definition_id) DO UPDATE SET value = 'Gold'",
        demo_org.id,
        ids.decode_as(contact, "Contact"),
    )
    before = await read_contact(demo_org.agent, contact)
    value = None if clear else "Silver"

    crm = await refused(demo_org.agent, contact, "crm_tier", value)
    custom = await refused(demo_org.admin, contact, "location", value)

    assert crm == [
        {
            "field": ["input", "key"],
            "message": "Tier is managed by the CRM; agents cannot change it",
            "code": "READ_ONLY",
        }
    ]
    assert [(e["field"], e["code"]) for e in custom] == [(["input", "key"], "READ_ONLY")]
    after = await read_contact(demo_org.agent, contact)
    assert after == before
    assert attribute(after, "crm_tier")["value"] == "Gold"
    assert await owner.fetch(OUTBOX, demo_org.id) == []


@pytest.mark.parametrize("clear", [False, True], ids=["set", "clear"])
async def test_archived_attributes_take_no_values(
    owner: asyncpg.Connection, demo_org: Org, clear: bool
) -> None:
    contact = await first_contact(demo_org)
    await set_value(demo_org.agent, contact, "location", "Quito")
    await owner.execute(
        "UPDATE attribute_definitions SET archived = true WHERE organization_id = $1"
        " AND key = 'location'",
        demo_org.id,
    )
    before = await read_contact(demo_org.agent, contact)

    errors = await refused(demo_org.agent, contact, "location", None if clear else "Lima")

    assert errors == [
        {
            "field": ["input", "key"],
            "message": "Location is archived: it takes no values",
            "code": "INVALID_VALUE",
        }
    ]
    assert await read_contact(demo_org.agent, contact) == before
    value = await owner.fetchval(
        "SELECT v.value FROM contact_attribute_values v JOIN attribute_definitions d"
        " ON d.organization_id = v.organization_id AND d.id = v.definition_id"
        " WHERE v.organization_id = $1 AND v.contact_id = $2 AND d.key = 'location'",
        demo_org.id,
        ids.decode_as(contact, "Contact"),
    )
    assert value == "Quito"


@pytest.mark.parametrize("kind", ["foreign", "missing", "malformed", "wrong type"])
@pytest.mark.parametrize("clear", [False, True], ids=["set", "clear"])
async def test_unknown_contacts_are_not_found(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org, kind: str, clear: bool
) -> None:
    mine, foreign = await first_contact(demo_org), await first_contact(other_org)
    contact = {
        "foreign": foreign,
        "missing": ids.encode("Contact", 10**12),
        "malformed": "Q29udGFjdDp4",
        "wrong type": ids.encode("Agent", demo_org.agent_id),
    }[kind]
    # a CRM attribute, so that a change would also be queued for the CRM
    key, value = "crm_account_manager", None if clear else "lima@example.com"
    await set_value(demo_org.agent, mine, key, "quito@example.com")
    await set_value(other_org.agent, foreign, key, "quito@example.com")
    mine_before = await read_contact(demo_org.agent, mine)
    foreign_before = await read_contact(other_org.agent, foreign)
    outbox_before = await owner.fetch(OUTBOX, demo_org.id)
    other_outbox_before = await owner.fetch(OUTBOX, other_org.id)

    errors = await refused(demo_org.agent, contact, key, value)

    assert errors == [
        {"field": ["input", "contactId"], "message": "No contact has this id", "code": "NOT_FOUND"}
    ]
    assert await read_contact(demo_org.agent, mine) == mine_before
    assert await read_contact(other_org.agent, foreign) == foreign_before
    assert await owner.fetch(OUTBOX, demo_org.id) == outbox_before
    assert await owner.fetch(OUTBOX, other_org.id) == other_outbox_before


async def test_a_foreign_contact_and_an_unknown_key_are_both_reported(
    demo_org: Org, other_org: Org
) -> None:
    foreign = await first_contact(other_org)
    errors = await refused(demo_org.agent, foreign, "no_such_key")
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "contactId"], "NOT_FOUND"),
        (["input", "key"], "NOT_FOUND"),
    ]


async def test_concurrent_crm_edits_queue_a_complete_chain_of_changes(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    contact = await first_contact(demo_org)
    emails = [f"manager{n}@example.com" for n in range(20)]

    payloads = await asyncio.gather(
        *(set_value(demo_org.agent, contact, "crm_account_manager", email) for email in emails)
    )

    assert all(payload["userErrors"] == [] for payload in payloads)
    rows = await owner.fetch(OUTBOX, demo_org.id)
    assert sorted(row["new_value"] for row in rows) == sorted(emails)
    olds = [row["old_value"] for row in rows]
    assert olds == [None, *(row["new_value"] for row in rows[:-1])]
    final = attribute(await read_contact(demo_org.agent, contact), "crm_account_manager")
    assert final["value"] == rows[-1]["new_value"]


def values_of(contact: dict[str, Any]) -> dict[str, str | None]:
    """The values of the payload's contact by key, after checking that the contact as its
    conversation loads it, and its single attributes, agree with the payload."""
    [conversation] = contact["conversations"]["nodes"]
    assert conversation["contact"]["updatedAt"] == contact["updatedAt"]
    listed = {found["key"]: found["value"] for found in contact["attributes"]}
    assert (contact["location"]["value"], contact["bio"]["value"]) == (
        listed["location"],
        listed["bio"],
    )
    return listed


async def test_each_payload_of_one_operation_sees_the_sets_before_it(demo_org: Org) -> None:
    contact = await first_contact(demo_org)
    old_bio = attribute(await read_contact(demo_org.agent, contact), "bio")["value"]
    assert old_bio != "Skier"

    reply = await demo_org.agent(TWO_SETS_IN_ONE_OPERATION, {"contactId": contact})

    # clearing the unset birthday changes nothing, not even the contact's updatedAt
    unchanged = values_of(reply.data["unchanged"]["contact"])
    first = values_of(reply.data["location"]["contact"])
    second = values_of(reply.data["bio"]["contact"])
    assert unchanged["birthday"] is None
    touched_at = [reply.data[name]["contact"]["updatedAt"] for name in ("unchanged", "location")]
    assert touched_at[0] < touched_at[1]
    assert (first["location"], first["bio"]) == ("Oslo", old_bio)
    assert (second["location"], second["bio"]) == ("Oslo", "Skier")
    read_back = await read_contact(demo_org.agent, contact)
    assert {found["key"]: found["value"] for found in read_back["attributes"]} == second


async def test_a_payload_sees_a_clear_after_a_set_in_one_operation(demo_org: Org) -> None:
    contact = await first_contact(demo_org)

    reply = await demo_org.agent(SET_AND_CLEAR_IN_ONE_OPERATION, {"contactId": contact})

    assert values_of(reply.data["set"]["contact"])["location"] == "Oslo"
    assert values_of(reply.data["clear"]["contact"])["location"] is None
    assert attribute(await read_contact(demo_org.agent, contact), "location")["value"] is None


async def test_each_payload_of_one_operation_sees_the_definitions_changed_before_it(
    demo_org: Org,
) -> None:
    contact = await first_contact(demo_org)
    bio = await definition(demo_org.admin, "bio")

    reply = await demo_org.admin(
        DEFINITION_CHANGES_IN_ONE_OPERATION, {"contactId": contact, "bioId": bio["id"]}
    )

    data = reply.data
    before = {found["key"]: found["label"] for found in data["before"]["contact"]["attributes"]}
    after = {found["key"]: found for found in data["after"]["contact"]["attributes"]}
    assert before["bio"] == "Bio"
    assert "shoe_size" not in before
    assert after["bio"]["label"] == "About"
    assert after["shoe_size"] == {"key": "shoe_size", "label": "Shoe size", "value": "42"}
    assert list(after)[-1] == "shoe_size"
