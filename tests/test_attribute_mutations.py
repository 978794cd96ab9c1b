"""setContactAttribute and clearContactAttribute: typed validation and normalisation of
every attribute type, patterns, the CRM outbox, and refusals that change nothing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests.conftest import GraphQL, Org

USER_ERRORS = "userErrors { field message code }"
ATTRIBUTE_FIELDS = """
  key label kind type value editable updatedAt updatedBy { id name } definition { id key }
"""

SET = f"""
mutation ($input: SetContactAttributeInput!) {{
  setContactAttribute(input: $input) {{
    contact {{ id updatedAt }}
    attribute {{ {ATTRIBUTE_FIELDS} }}
    {USER_ERRORS}
  }}
}}
"""

CLEAR = f"""
mutation ($input: ClearContactAttributeInput!) {{
  clearContactAttribute(input: $input) {{
    contact {{ id updatedAt }}
    attribute {{ {ATTRIBUTE_FIELDS} }}
    {USER_ERRORS}
  }}
}}
"""

SET_AND_LIST = """
mutation ($input: SetContactAttributeInput!) {
  setContactAttribute(input: $input) { contact { attributes { key value } } }
}
"""

CONTACT = f"""
query ($id: ID!) {{
  contact(id: $id) {{ id updatedAt attributes {{ {ATTRIBUTE_FIELDS} }} }}
}}
"""

SEARCH = "query ($search: String!) { contacts(search: $search) { nodes { id } } }"

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"

OUTBOX = (
    "SELECT contact_id, definition_id, key, old_value, new_value, agent_id, created_at,"
    " delivered_at FROM crm_outbox WHERE organization_id = $1 ORDER BY id"
)


async def first_contact(org: Org) -> str:
    contact: str = (await org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
    return contact


async def set_value(caller: GraphQL, contact: str, key: str, value: str) -> dict[str, Any]:
    """Posts the JSON ASCII-escaped, so that lone surrogates reach the server as JSON allows
    (`\\ud800`); httpx's own encoder would refuse them."""
    variables = {"input": {"contactId": contact, "key": key, "value": value}}
    response = await caller.client.post(
        "/graphql",
        content=json.dumps({"query": SET, "variables": variables}, ensure_ascii=True),
        headers={"Authorization": f"Bearer {caller.token}", "Content-Type": "application/json"},
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["setContactAttribute"]
    return payload


async def clear_value(caller: GraphQL, contact: str, key: str) -> dict[str, Any]:
    reply = await caller(CLEAR, {"input": {"contactId": contact, "key": key}})
    payload: dict[str, Any] = reply.data["clearContactAttribute"]
    return payload


async def read_contact(caller: GraphQL, contact: str) -> dict[str, Any]:
    found: dict[str, Any] = (await caller(CONTACT, {"id": contact})).data["contact"]
    return found


def attribute(contact: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in contact["attributes"] if a["key"] == key)
    return found


# (key of a demo definition, [(input, stored)]) for every type.
VALID: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "TEXT": (
        "bio",
        [
            ("  Coffee lover ☕  ", "Coffee lover ☕"),
            ("line one\nline two", "line one\nline two"),
            ("é" * 2000, "é" * 2000),
            ("👍🏽" * 1000, "👍🏽" * 1000),
        ],
    ),
    "NUMBER": (
        "followers",
        [
            ("42", "42"),
            ("+007.50", "7.5"),
            ("-0.0", "0"),
            ("-0012", "-12"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-12.340", "-12.34"),
            (" 1000000 ", "1000000"),
            ("123456789012345678901234567890.125", "123456789012345678901234567890.125"),
        ],
    ),
    "BOOLEAN": ("newsletter", [("true", "true"), ("FALSE", "false"), (" True ", "true")]),
    "DATE": ("birthday", [("2024-02-29", "2024-02-29"), ("1999-12-31", "1999-12-31")]),
    "URL": (
        "url",
        [
            ("https://Example.COM/Path?q=A#F", "https://example.com/Path?q=A#F"),
            ("HTTP://example.com", "http://example.com"),
            ("https://User@Host.Example:8443/x", "https://User@host.example:8443/x"),
            ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
            ("https://münchen.example/straße", "https://münchen.example/straße"),
        ],
    ),
    "EMAIL": (
        "email",
        [
            ("Jane.Doe@Example.COM", "Jane.Doe@example.com"),
            ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
            ("  a@b.io ", "a@b.io"),
        ],
    ),
    "PHONE": (
        "phone",
        [
            ("+44 20 7946 0958", "+442079460958"),
            ("0044 (20) 7946-0958", "+442079460958"),
            ("+1.415.555.2671", "+14155552671"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ],
    ),
    "SELECT": (
        "language",
        [("French", "French"), ("french", "French"), ("  JAPANESE ", "Japanese")],
    ),
}

# (key, [(input, code, words the message has)]) for every type.
INVALID: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "TEXT": (
        "bio",
        [
            ("", "BLANK", "blank"),
            (" \n\t ", "BLANK", "blank"),
            ("x" * 2001, "TOO_LONG", "2,000"),
            ("a\x00b", "INVALID_VALUE", "NUL"),
            ("a\ud800b", "INVALID_VALUE", "surrogate"),
        ],
    ),
    "NUMBER": (
        "followers",
        [
            (text, "INVALID_VALUE", "expected a decimal number")
            for text in (
                "1,000",
                "1 000",
                "1_000",
                "1e3",
                "NaN",
                "nan",
                "inf",
                "-Infinity",
                "12abc",
                "+",
                "-",
                ".",
                "1.2.3",
                "٣",
                "0x1F",
                "--1",
            )
        ],
    ),
    "BOOLEAN": (
        "newsletter",
        [(text, "INVALID_VALUE", "expected true or false") for text in ("yes", "1", "t", "truee")],
    ),
    "DATE": (
        "birthday",
        [
            ("2023-02-29", "INVALID_VALUE", "no such day"),
            ("2024-13-01", "INVALID_VALUE", "no such day"),
            ("2024-00-10", "INVALID_VALUE", "no such day"),
            ("2024-1-5", "INVALID_VALUE", "YYYY-MM-DD"),
            ("24-01-05", "INVALID_VALUE", "YYYY-MM-DD"),
            ("2024-01-05T10:00", "INVALID_VALUE", "YYYY-MM-DD"),
            ("20240105", "INVALID_VALUE", "YYYY-MM-DD"),
            ("05/01/2024", "INVALID_VALUE", "YYYY-MM-DD"),
        ],
    ),
    "URL": (
        "url",
        [
            (text, "INVALID_VALUE", "expected an http or https URL")
            for text in (
                "ftp://example.com",
                "example.com",
                "https://",
                "https:///path",
                "javascript:alert(1)",
                "mailto:a@b.io",
                "https://exa mple.com",
                "https://example.com:99999",
                "https://example.com:0",
                "https://exa%mple.com",
                "https://example.com/\u200b",
            )
        ],
    ),
    "EMAIL": (
        "email",
        [
            (text, "INVALID_VALUE", "expected an email address")
            for text in (
                "plain",
                "@example.com",
                "a@",
                "a@localhost",
                "a@b..com",
                "a b@example.com",
                "a@-example.com",
                "a@example.123",
                "a..b@example.com",
                ".a@example.com",
                "a@exa_mple.com",
                "a@b@example.com",
                "x" * 65 + "@example.com",
            )
        ],
    ),
    "PHONE": (
        "phone",
        [
            (text, "INVALID_VALUE", "expected a phone number in international format")
            for text in (
                "12345",
                "+1234567",
                "+1234567890123456",
                "+0 20 7946 0958",
                "020 7946 0958",
                "+44 20 7946 095x",
                "++442079460958",
                "+44 20 7946 ٠958",
            )
        ],
    ),
    "SELECT": (
        "language",
        [
            ("Klingon", "INVALID_VALUE", "expected one of: English, French, German"),
            ("Fren", "INVALID_VALUE", "expected one of"),
        ],
    ),
}


@pytest.mark.parametrize("type_", sorted(VALID))
async def test_values_of_every_type_are_normalised_stored_and_returned(
    demo_org: Org, type_: str
) -> None:
    key, cases = VALID[type_]
    contact = await first_contact(demo_org)
    for given, stored in cases:
        payload = await set_value(demo_org.agent, contact, key, given)

        assert payload["userErrors"] == [], (given, payload["userErrors"])
        assert payload["attribute"]["type"] == type_
        assert payload["attribute"]["value"] == stored, given
        read = attribute(await read_contact(demo_org.admin, contact), key)
        assert read["value"] == stored, given


@pytest.mark.parametrize("type_", sorted(INVALID))
async def test_invalid_values_of_every_type_are_refused_and_change_nothing(
    demo_org: Org, type_: str
) -> None:
    key, cases = INVALID[type_]
    contact = await first_contact(demo_org)
    valid_input, valid_stored = VALID[type_][1][0]
    await set_value(demo_org.agent, contact, key, valid_input)
    before = await read_contact(demo_org.agent, contact)
    for given, code, words in cases:
        payload = await set_value(demo_org.agent, contact, key, given)

        assert payload["contact"] is None
        assert payload["attribute"] is None
        [error] = payload["userErrors"]
        assert (error["field"], error["code"]) == (["input", "value"], code), given
        assert words in error["message"], (given, error["message"])
    after = await read_contact(demo_org.agent, contact)
    assert after == before
    assert attribute(after, key)["value"] == valid_stored


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


async def test_a_value_must_match_the_definitions_pattern(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'order_ref', 'Order', 'CUSTOM', 'TEXT', '[A-Z]{2}-[0-9]{4}'),"
        " ($1, 'uk_phone', 'UK phone', 'CUSTOM', 'PHONE', '\\+44[0-9]+')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    matched = await set_value(demo_org.agent, contact, "order_ref", " AB-1234 ")
    longer = await set_value(demo_org.agent, contact, "order_ref", "AB-12345")
    lower = await set_value(demo_org.agent, contact, "order_ref", "ab-1234")
    # the pattern sees the normalised value
    phone = await set_value(demo_org.agent, contact, "uk_phone", "0044 20 7946 0958")
    foreign_phone = await set_value(demo_org.agent, contact, "uk_phone", "+33 1 23 45 67 89")

    assert matched["attribute"]["value"] == "AB-1234"
    for refused in (longer, lower):
        assert refused["userErrors"] == [
            {
                "field": ["input", "value"],
                "message": "Order: expected a value matching the pattern [A-Z]{2}-[0-9]{4}",
                "code": "INVALID_VALUE",
            }
        ]
    assert phone["attribute"]["value"] == "+442079460958"
    assert [e["code"] for e in foreign_phone["userErrors"]] == ["INVALID_VALUE"]
    after = await read_contact(demo_org.agent, contact)
    assert attribute(after, "order_ref")["value"] == "AB-1234"
    assert attribute(after, "uk_phone")["value"] == "+442079460958"


async def test_a_pattern_that_backtracks_forever_refuses_in_time(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'slow', 'Slow', 'CUSTOM', 'TEXT', '(a|aa)+')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    started = time.monotonic()
    payload = await set_value(demo_org.agent, contact, "slow", "a" * 60 + "b")
    elapsed = time.monotonic() - started

    [error] = payload["userErrors"]
    assert error["code"] == "INVALID_VALUE"
    assert "in time" in error["message"]
    assert elapsed < 2
    assert attribute(await read_contact(demo_org.agent, contact), "slow")["value"] is None
    assert (await set_value(demo_org.agent, contact, "slow", "aaaa"))["attribute"][
        "value"
    ] == "aaaa"


async def test_a_broken_pattern_stored_past_the_api_refuses_values_cleanly(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'imported', 'Imported', 'CRM', 'TEXT', '(')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    payload = await set_value(demo_org.agent, contact, "imported", "anything")

    [error] = payload["userErrors"]
    assert error["code"] == "INVALID_VALUE"
    assert "administrator" in error["message"]
    assert attribute(await read_contact(demo_org.agent, contact), "imported")["value"] is None
    assert await owner.fetch(OUTBOX, demo_org.id) == []


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
    demo_org: Org, other_org: Org, kind: str, clear: bool
) -> None:
    foreign = await first_contact(other_org)
    contact = {
        "foreign": foreign,
        "missing": ids.encode("Contact", 10**12),
        "malformed": "Q29udGFjdDp4",
        "wrong type": ids.encode("Agent", demo_org.agent_id),
    }[kind]
    foreign_before = await read_contact(other_org.agent, foreign)

    errors = await refused(demo_org.agent, contact, "location", None if clear else "Lima")

    assert errors == [
        {"field": ["input", "contactId"], "message": "No contact has this id", "code": "NOT_FOUND"}
    ]
    assert await read_contact(other_org.agent, foreign) == foreign_before


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
