"""createAttributeDefinition and updateAttributeDefinition: coherent definitions only;
every refusal is read back to prove nothing changed."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLObjectType

from resolvers import ids
from resolvers.attribute_definitions import BUILT_IN_FIELDS
from schema import schema
from tests.attributes import (
    codes,
    create_definition,
    definition,
    definitions,
    first_contact,
    update_definition,
)
from tests.conftest import Org

LIVE_DEFINITIONS = "{ attributeDefinitions { key } }"

SET_VALUE = """
mutation ($input: SetContactAttributeInput!) {
  setContactAttribute(input: $input) { attribute { value } userErrors { code } }
}
"""

CONTACT_ATTRIBUTES = "query ($id: ID!) { contact(id: $id) { attributes { key value } } }"


# Attribute definitions: create.


async def test_create_a_select_definition_agents_can_fill_in(demo_org: Org) -> None:
    last_position = max(d["position"] for d in await definitions(demo_org.admin))

    payload = await create_definition(
        demo_org.admin,
        key="shirt_size",
        label="  Shirt size ",
        type="SELECT",
        options=[" S", "M ", "L", "XL"],
        description=" For the goodies. ",
    )

    assert payload["userErrors"] == []
    created = payload["attributeDefinition"]
    assert created == {
        "id": created["id"],
        "key": "shirt_size",
        "label": "Shirt size",
        "kind": "CUSTOM",
        "type": "SELECT",
        "options": ["S", "M", "L", "XL"],
        "pattern": None,
        "description": "For the goodies.",
        "editable": True,
        "position": last_position + 1,
        "archived": False,
    }
    assert await definition(demo_org.agent, "shirt_size") == created
    contact = await first_contact(demo_org)
    filled = await demo_org.agent(
        SET_VALUE, {"input": {"contactId": contact, "key": "shirt_size", "value": "xl"}}
    )
    assert filled.data["setContactAttribute"]["attribute"] == {"value": "XL"}


async def test_create_a_definition_with_a_pattern_and_a_position(demo_org: Org) -> None:
    payload = await create_definition(
        demo_org.admin,
        key="order_ref",
        label="Order",
        type="TEXT",
        pattern="[A-Z]{2}-\\d{4}",
        position=-5,
    )

    created = payload["attributeDefinition"]
    assert (created["pattern"], created["position"], created["options"]) == (
        "[A-Z]{2}-\\d{4}",
        -5,
        [],
    )
    assert (await definitions(demo_org.agent))[0] == created
    contact = await first_contact(demo_org)
    for value, result in (("ab-1234", ["INVALID_VALUE"]), ("AB-1234", [])):
        reply = await demo_org.agent(
            SET_VALUE, {"input": {"contactId": contact, "key": "order_ref", "value": value}}
        )
        assert [e["code"] for e in reply.data["setContactAttribute"]["userErrors"]] == result


BAD_KEYS = ["Bad", "1abc", "a-b", "", "a" * 64, "ümlaut", "snake case", "_x"]
BUILT_IN_KEYS = ["id", "name", "handle", "network", "avatar_url", "is_vip", "notes", "created_at"]


@pytest.mark.parametrize(
    ("key", "code"),
    [(key, "INVALID_VALUE") for key in BAD_KEYS + BUILT_IN_KEYS]
    + [("email", "ALREADY_EXISTS"), ("phone", "ALREADY_EXISTS"), ("bio", "ALREADY_EXISTS")],
)
async def test_create_refuses_bad_built_in_and_taken_keys(
    demo_org: Org, key: str, code: str
) -> None:
    before = await definitions(demo_org.admin)

    payload = await create_definition(demo_org.admin, key=key, label="Label", type="TEXT")

    assert payload["attributeDefinition"] is None
    assert codes(payload) == [(["input", "key"], code)]
    assert await definitions(demo_org.admin) == before


async def test_the_key_of_an_archived_definition_stays_taken(demo_org: Org) -> None:
    bio = await definition(demo_org.admin, "bio")
    await update_definition(demo_org.admin, id=bio["id"], archived=True)
    before = await definitions(demo_org.admin)

    payload = await create_definition(demo_org.admin, key="bio", label="Bio again", type="TEXT")

    assert payload["userErrors"] == [
        {
            "field": ["input", "key"],
            "message": "An attribute with key “bio” exists already",
            "code": "ALREADY_EXISTS",
        }
    ]
    assert await definitions(demo_org.admin) == before


async def test_keys_are_unique_per_organisation_only(demo_org: Org, other_org: Org) -> None:
    other = await create_definition(other_org.admin, key="vip_since", label="VIP", type="DATE")
    assert other["userErrors"] == []

    mine = await create_definition(demo_org.admin, key="vip_since", label="VIP", type="DATE")

    assert mine["userErrors"] == []
    assert mine["attributeDefinition"]["id"] != other["attributeDefinition"]["id"]
    assert await definition(other_org.admin, "vip_since") == other["attributeDefinition"]


BAD_DEFINITIONS: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
    ({"label": "  "}, [(["input", "label"], "BLANK")]),
    ({"label": "x" * 101}, [(["input", "label"], "TOO_LONG")]),
    ({"label": "a\x00"}, [(["input", "label"], "INVALID_VALUE")]),
    ({"type": "SELECT"}, [(["input", "options"], "INVALID_VALUE")]),
    ({"options": ["a"]}, [(["input", "options"], "INVALID_VALUE")]),
    (
        {"type": "SELECT", "options": ["Red", "red", " "]},
        [(["input", "options", "1"], "INVALID_VALUE"), (["input", "options", "2"], "BLANK")],
    ),
    ({"type": "SELECT", "options": ["x" * 101]}, [(["input", "options", "0"], "TOO_LONG")]),
    (
        {"type": "SELECT", "options": [str(n) for n in range(101)]},
        [(["input", "options"], "TOO_LONG")],
    ),
    ({"pattern": "("}, [(["input", "pattern"], "INVALID_VALUE")]),
    ({"pattern": "a{2,1}"}, [(["input", "pattern"], "INVALID_VALUE")]),
    ({"pattern": "[a--b]"}, [(["input", "pattern"], "INVALID_VALUE")]),
    ({"pattern": "(?V1)a"}, [(["input", "pattern"], "INVALID_VALUE")]),
    ({"pattern": "a{99999999999}"}, [(["input", "pattern"], "INVALID_VALUE")]),
    ({"pattern": "x" * 501}, [(["input", "pattern"], "TOO_LONG")]),
    ({"type": "BOOLEAN", "pattern": "true"}, [(["input", "pattern"], "INVALID_VALUE")]),
    (
        {"type": "SELECT", "options": ["a"], "pattern": "a"},
        [(["input", "pattern"], "INVALID_VALUE")],
    ),
    ({"description": "x" * 1001}, [(["input", "description"], "TOO_LONG")]),
    (
        {"key": "Nope", "label": "", "description": "x" * 1001},
        [
            (["input", "key"], "INVALID_VALUE"),
            (["input", "label"], "BLANK"),
            (["input", "description"], "TOO_LONG"),
        ],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_DEFINITIONS)
async def test_create_refuses_incoherent_definitions(
    demo_org: Org, fields: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    before = await definitions(demo_org.admin)

    payload = await create_definition(
        demo_org.admin, **{"key": "fresh", "label": "Fresh", "type": "TEXT", **fields}
    )

    assert payload["attributeDefinition"] is None
    assert codes(payload) == expected
    assert await definitions(demo_org.admin) == before


async def test_a_bad_pattern_says_why(demo_org: Org) -> None:
    payload = await create_definition(
        demo_org.admin, key="fresh", label="Fresh", type="TEXT", pattern="[a-"
    )
    [error] = payload["userErrors"]
    assert error["message"].startswith("Pattern is not a valid regular expression: ")


# Attribute definitions: update.


async def test_update_changes_what_is_given_and_keeps_the_rest(demo_org: Org) -> None:
    language = await definition(demo_org.admin, "language")

    payload = await update_definition(
        demo_org.admin,
        id=language["id"],
        label=" Spoken language ",
        options=[*language["options"], "Portuguese"],
        description="As the contact prefers.",
        position=3,
    )

    assert payload["userErrors"] == []
    assert payload["attributeDefinition"] == {
        **language,
        "label": "Spoken language",
        "options": [*language["options"], "Portuguese"],
        "description": "As the contact prefers.",
        "position": 3,
    }
    assert await definition(demo_org.agent, "language") == payload["attributeDefinition"]

    # null removes a pattern or description, and keeps what null cannot clear
    bio = await definition(demo_org.admin, "bio")
    with_pattern = await update_definition(demo_org.admin, id=bio["id"], pattern="[^<>]*")
    assert with_pattern["attributeDefinition"]["pattern"] == "[^<>]*"
    cleared = await update_definition(
        demo_org.admin, id=language["id"], description=None, label=None, position=None
    )
    assert cleared["attributeDefinition"] == {
        **payload["attributeDefinition"],
        "description": None,
    }
    no_pattern = await update_definition(demo_org.admin, id=bio["id"], pattern=None)
    assert no_pattern["attributeDefinition"] == bio


async def test_archiving_hides_a_definition_and_restoring_brings_its_values_back(
    demo_org: Org,
) -> None:
    contact = await first_contact(demo_org)
    bio = await definition(demo_org.admin, "bio")
    values = (await demo_org.agent(CONTACT_ATTRIBUTES, {"id": contact})).data["contact"]
    bio_value = next(a for a in values["attributes"] if a["key"] == "bio")

    archived = await update_definition(demo_org.admin, id=bio["id"], archived=True)

    assert archived["attributeDefinition"]["archived"] is True
    live = [d["key"] for d in (await demo_org.agent(LIVE_DEFINITIONS)).data["attributeDefinitions"]]
    assert "bio" not in live
    hidden = (await demo_org.agent(CONTACT_ATTRIBUTES, {"id": contact})).data["contact"]
    assert "bio" not in [a["key"] for a in hidden["attributes"]]

    restored = await update_definition(demo_org.admin, id=bio["id"], archived=False)

    assert restored["attributeDefinition"] == bio
    back = (await demo_org.agent(CONTACT_ATTRIBUTES, {"id": contact})).data["contact"]
    assert bio_value in back["attributes"]


async def test_the_type_changes_only_while_no_contact_has_a_value(demo_org: Org) -> None:
    created = await create_definition(demo_org.admin, key="score", label="Score", type="TEXT")
    score = created["attributeDefinition"]

    retyped = await update_definition(demo_org.admin, id=score["id"], type="NUMBER")

    assert retyped["attributeDefinition"]["type"] == "NUMBER"
    contact = await first_contact(demo_org)
    await demo_org.agent(SET_VALUE, {"input": {"contactId": contact, "key": "score", "value": "7"}})
    before = await definitions(demo_org.admin)

    refused = await update_definition(demo_org.admin, id=score["id"], type="TEXT", label="Grade")

    assert refused["userErrors"] == [
        {
            "field": ["input", "type"],
            "message": "1 contact has a value for Score: its type can change only while none has",
            "code": "INVALID_VALUE",
        }
    ]
    assert await definitions(demo_org.admin) == before


async def test_retyping_to_select_needs_options_and_drops_the_pattern(demo_org: Org) -> None:
    created = await create_definition(
        demo_org.admin, key="plan", label="Plan", type="TEXT", pattern="[a-z]+"
    )
    plan = created["attributeDefinition"]
    before = await definitions(demo_org.admin)

    without_options = await update_definition(demo_org.admin, id=plan["id"], type="SELECT")
    with_a_pattern = await update_definition(
        demo_org.admin, id=plan["id"], type="SELECT", options=["Free", "Pro"], pattern="[A-Z]+"
    )

    assert codes(without_options) == [(["input", "options"], "INVALID_VALUE")]
    assert codes(with_a_pattern) == [(["input", "pattern"], "INVALID_VALUE")]
    assert await definitions(demo_org.admin) == before
    retyped = await update_definition(
        demo_org.admin, id=plan["id"], type="SELECT", options=["Free", "Pro"]
    )
    assert retyped["attributeDefinition"] == {
        **plan,
        "type": "SELECT",
        "options": ["Free", "Pro"],
        "pattern": None,
    }
    assert await definition(demo_org.admin, "plan") == retyped["attributeDefinition"]


async def test_retyping_drops_options_and_a_pattern_the_new_type_cannot_have(
    demo_org: Org,
) -> None:
    admin = demo_org.admin
    plan = await create_definition(
        admin, key="plan", label="Plan", type="SELECT", options=["Free", "Pro"]
    )
    code = await create_definition(admin, key="code", label="Code", type="TEXT", pattern="[a-z]+")
    count = await create_definition(
        admin, key="count", label="Count", type="TEXT", pattern="[0-9]+"
    )
    select, text, digits = (payload["attributeDefinition"] for payload in (plan, code, count))

    as_text = await update_definition(admin, id=select["id"], type="TEXT")
    as_boolean = await update_definition(admin, id=text["id"], type="BOOLEAN")
    as_number = await update_definition(admin, id=digits["id"], type="NUMBER")

    assert as_text["attributeDefinition"] == {**select, "type": "TEXT", "options": []}
    assert as_boolean["attributeDefinition"] == {**text, "type": "BOOLEAN", "pattern": None}
    # a NUMBER may have a pattern: it stays
    assert as_number["attributeDefinition"] == {**digits, "type": "NUMBER"}
    assert [await definition(admin, key) for key in ("plan", "code", "count")] == [
        payload["attributeDefinition"] for payload in (as_text, as_boolean, as_number)
    ]


async def test_retyping_refuses_options_or_a_pattern_given_for_a_type_without_them(
    demo_org: Org,
) -> None:
    admin = demo_org.admin
    plan = await create_definition(
        admin, key="plan", label="Plan", type="SELECT", options=["Free", "Pro"]
    )
    code = await create_definition(admin, key="code", label="Code", type="TEXT", pattern="[a-z]+")
    before = await definitions(admin)

    as_text = await update_definition(
        admin, id=plan["attributeDefinition"]["id"], type="TEXT", options=["Free"]
    )
    as_boolean = await update_definition(
        admin, id=code["attributeDefinition"]["id"], type="BOOLEAN", pattern="[a-z]+"
    )

    assert codes(as_text) == [(["input", "options"], "INVALID_VALUE")]
    assert codes(as_boolean) == [(["input", "pattern"], "INVALID_VALUE")]
    assert await definitions(admin) == before


async def test_options_in_use_cannot_be_removed(demo_org: Org) -> None:
    language = await definition(demo_org.admin, "language")
    contact = await first_contact(demo_org)
    await demo_org.agent(
        SET_VALUE, {"input": {"contactId": contact, "key": "language", "value": "Japanese"}}
    )
    before = await definitions(demo_org.admin)

    refused = await update_definition(demo_org.admin, id=language["id"], options=["Klingon"])
    renamed = await update_definition(
        demo_org.admin,
        id=language["id"],
        options=[o.upper() if o == "Japanese" else o for o in language["options"]],
    )

    [error] = refused["userErrors"]
    assert (error["field"], error["code"]) == (["input", "options"], "INVALID_VALUE")
    assert "Japanese" in error["message"]
    assert codes(renamed) == [(["input", "options"], "INVALID_VALUE")]
    assert await definitions(demo_org.admin) == before

    created = await create_definition(
        demo_org.admin, key="tone", label="Tone", type="SELECT", options=["Warm", "Cold"]
    )
    tone = created["attributeDefinition"]
    unused_removed = await update_definition(demo_org.admin, id=tone["id"], options=["Warm"])
    assert unused_removed["attributeDefinition"]["options"] == ["Warm"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"type": "TEXT"}, "type"), ({"archived": True}, "archived")],
)
async def test_common_definitions_cannot_be_retyped_or_archived(
    demo_org: Org, fields: dict[str, Any], field: str
) -> None:
    phone = await definition(demo_org.admin, "phone")
    assert phone["kind"] == "COMMON"
    before = await definitions(demo_org.admin)

    payload = await update_definition(demo_org.admin, id=phone["id"], **fields)

    assert codes(payload) == [(["input", field], "READ_ONLY")]
    assert await definitions(demo_org.admin) == before


async def test_update_refuses_what_create_refuses(demo_org: Org) -> None:
    bio = await definition(demo_org.admin, "bio")
    before = await definitions(demo_org.admin)

    payload = await update_definition(
        demo_org.admin,
        id=bio["id"],
        label="",
        options=["a"],
        pattern="(",
        description="x" * 1001,
    )

    assert codes(payload) == [
        (["input", "label"], "BLANK"),
        (["input", "options"], "INVALID_VALUE"),
        (["input", "pattern"], "INVALID_VALUE"),
        (["input", "description"], "TOO_LONG"),
    ]
    assert await definitions(demo_org.admin) == before


@pytest.mark.parametrize("kind", ["foreign", "missing", "malformed", "wrong type"])
async def test_update_refuses_unknown_definitions(demo_org: Org, other_org: Org, kind: str) -> None:
    foreign = await definition(other_org.admin, "bio")
    definition_id = {
        "foreign": foreign["id"],
        "missing": ids.encode("AttributeDefinition", 10**12),
        "malformed": "%%%",
        "wrong type": ids.encode("Agent", demo_org.admin_id),
    }[kind]
    before = await definitions(demo_org.admin)

    payload = await update_definition(demo_org.admin, id=definition_id, label="Mine now")

    assert payload == {
        "attributeDefinition": None,
        "userErrors": [
            {
                "field": ["input", "id"],
                "message": "No attribute definition has this id",
                "code": "NOT_FOUND",
            }
        ],
    }
    assert await definitions(demo_org.admin) == before
    assert await definition(other_org.admin, "bio") == foreign


@pytest.mark.parametrize("position", [-1_000_001, 1_000_001, 2**31 - 1, -(2**31)])
async def test_positions_out_of_range_are_refused(demo_org: Org, position: int) -> None:
    bio = await definition(demo_org.admin, "bio")
    before = await definitions(demo_org.admin)

    created = await create_definition(
        demo_org.admin, key="fresh", label="Fresh", type="TEXT", position=position
    )
    updated = await update_definition(demo_org.admin, id=bio["id"], position=position)

    for payload in (created, updated):
        assert payload["attributeDefinition"] is None
        assert payload["userErrors"] == [
            {
                "field": ["input", "position"],
                "message": f"Position must be between -1,000,000 and 1,000,000; got {position:,}",
                "code": "INVALID_VALUE",
            }
        ]
    assert await definitions(demo_org.admin) == before


async def test_a_definition_created_after_one_at_the_last_position_sorts_last(
    demo_org: Org,
) -> None:
    first = await create_definition(
        demo_org.admin, key="at_the_end", label="End", type="TEXT", position=1_000_000
    )
    assert first["userErrors"] == []

    second = await create_definition(demo_org.admin, key="after_it", label="After", type="TEXT")

    assert second["userErrors"] == []
    assert second["attributeDefinition"]["position"] == 1_000_000
    listed = [found["key"] for found in await definitions(demo_org.admin)]
    assert listed[-2:] == ["at_the_end", "after_it"]


async def test_the_database_refuses_positions_out_of_range(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    for position in (-1_000_001, 1_000_001):
        with pytest.raises(asyncpg.CheckViolationError):
            await owner.execute(
                "INSERT INTO attribute_definitions (organization_id, key, label, kind, type,"
                " position) VALUES ($1, 'far', 'Far', 'CUSTOM', 'TEXT', $2)",
                demo_org.id,
                position,
            )


async def test_lengths_are_counted_after_trimming(demo_org: Org) -> None:
    label, option, description = "L" * 100, "O" * 100, "D" * 1_000

    payload = await create_definition(
        demo_org.admin,
        key="padded",
        label=f"  {label}  ",
        type="SELECT",
        options=[f" {option}\t"],
        description=f"\n{description} ",
    )

    assert payload["userErrors"] == []
    created = payload["attributeDefinition"]
    assert (created["label"], created["options"], created["description"]) == (
        label,
        [option],
        description,
    )
    relabelled = await update_definition(demo_org.admin, id=created["id"], label=f" {label} ")
    assert relabelled["attributeDefinition"] == created


# Counted repeats of groups, which the engine unrolls: megabytes for the first, gigabytes
# for the second, were it allowed to build them.
COSTLY_PATTERNS = ["(a{100}){100}", "((a{50}){50}){50}"]


@pytest.mark.parametrize("pattern", COSTLY_PATTERNS)
async def test_a_pattern_too_costly_to_compile_is_refused(demo_org: Org, pattern: str) -> None:
    bio = await definition(demo_org.admin, "bio")
    before = await definitions(demo_org.admin)

    created = await create_definition(
        demo_org.admin, key="fresh", label="Fresh", type="TEXT", pattern=pattern
    )
    updated = await update_definition(demo_org.admin, id=bio["id"], pattern=pattern)

    for payload in (created, updated):
        [error] = payload["userErrors"]
        assert (error["field"], error["code"]) == (["input", "pattern"], "INVALID_VALUE")
        assert "too complex" in error["message"]
    assert await definitions(demo_org.admin) == before


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_no_key_can_be_a_field_of_the_contact_type() -> None:
    contact = schema._schema.type_map["Contact"]
    assert isinstance(contact, GraphQLObjectType)
    assert {snake_case(name) for name in contact.fields} - BUILT_IN_FIELDS == set()


async def test_no_key_can_be_a_column_of_contacts(owner: asyncpg.Connection) -> None:
    columns = await owner.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = 'contacts'"
    )
    assert {row["column_name"] for row in columns} - BUILT_IN_FIELDS == set()


RENAMED_MID_REQUEST = """
mutation ($contact: ID!, $definition: ID!, $key: String!) {
  before: setContactAttribute(input: {contactId: $contact, key: $key, value: "x"}) {
    contact { attributes { key label value } }
  }
  rename: updateAttributeDefinition(input: {id: $definition, label: "Renamed"}) {
    userErrors { code }
  }
  after: clearContactAttribute(input: {contactId: $contact, key: $key}) {
    contact { attributes { key label value } }
  }
}
"""


async def test_a_definition_renamed_mid_request_shows_its_new_label_after(
    demo_org: Org,
) -> None:
    # Attributes without a value are shared by the contacts of a request, one per
    # definition: a definition changed by an earlier field must not answer as it was.
    contact = await first_contact(demo_org)
    await create_definition(demo_org.admin, key="first_custom", label="First", type="TEXT")
    created = await create_definition(
        demo_org.admin, key="unset_custom", label="Before", type="TEXT"
    )
    reply = await demo_org.admin(
        RENAMED_MID_REQUEST,
        {
            "contact": contact,
            "definition": created["attributeDefinition"]["id"],
            "key": "first_custom",
        },
    )

    def unset(payload: str) -> dict[str, Any]:
        attributes = reply.data[payload]["contact"]["attributes"]
        return next(a for a in attributes if a["key"] == "unset_custom")

    assert reply.data["rename"]["userErrors"] == []
    assert unset("before") == {"key": "unset_custom", "label": "Before", "value": None}
    assert unset("after") == {"key": "unset_custom", "label": "Renamed", "value": None}
    first = reply.data["after"]["contact"]["attributes"]
    assert {"key": "first_custom", "label": "First", "value": None} in first
