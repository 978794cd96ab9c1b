"""createAttributeDefinition, updateAttributeDefinition, createVipGroup, updateVipGroup:
administrators only; every refusal is read back to prove nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from resolvers import ids
from tests.conftest import GraphQL, Org

USER_ERRORS = "userErrors { field message code }"
DEFINITION_FIELDS = "id key label kind type options pattern description editable position archived"
VIP_GROUP_FIELDS = "id name priority team { id }"

CREATE_DEFINITION = f"""
mutation ($input: CreateAttributeDefinitionInput!) {{
  createAttributeDefinition(input: $input) {{
    attributeDefinition {{ {DEFINITION_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

UPDATE_DEFINITION = f"""
mutation ($input: UpdateAttributeDefinitionInput!) {{
  updateAttributeDefinition(input: $input) {{
    attributeDefinition {{ {DEFINITION_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

CREATE_VIP_GROUP = f"""
mutation ($input: CreateVipGroupInput!) {{
  createVipGroup(input: $input) {{ vipGroup {{ {VIP_GROUP_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE_VIP_GROUP = f"""
mutation ($input: UpdateVipGroupInput!) {{
  updateVipGroup(input: $input) {{ vipGroup {{ {VIP_GROUP_FIELDS} }} {USER_ERRORS} }}
}}
"""

DEFINITIONS = f"{{ attributeDefinitions(includeArchived: true) {{ {DEFINITION_FIELDS} }} }}"
LIVE_DEFINITIONS = "{ attributeDefinitions { key } }"
VIP_GROUPS = f"{{ vipGroups {{ {VIP_GROUP_FIELDS} }} }}"
TEAMS = "{ teams { id name } }"
FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"

SET_VALUE = """
mutation ($input: SetContactAttributeInput!) {
  setContactAttribute(input: $input) { attribute { value } userErrors { code } }
}
"""

CONTACT_ATTRIBUTES = "query ($id: ID!) { contact(id: $id) { attributes { key value } } }"


async def definitions(caller: GraphQL) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await caller(DEFINITIONS)).data["attributeDefinitions"]
    return found


async def definition(caller: GraphQL, key: str) -> dict[str, Any]:
    return next(d for d in await definitions(caller) if d["key"] == key)


async def vip_groups(caller: GraphQL) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await caller(VIP_GROUPS)).data["vipGroups"]
    return found


async def vip_group(caller: GraphQL, name: str) -> dict[str, Any]:
    return next(g for g in await vip_groups(caller) if g["name"] == name)


async def team(caller: GraphQL, name: str) -> str:
    found: str = next(t["id"] for t in (await caller(TEAMS)).data["teams"] if t["name"] == name)
    return found


async def create_definition(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    reply = await caller(CREATE_DEFINITION, {"input": fields})
    payload: dict[str, Any] = reply.data["createAttributeDefinition"]
    return payload


async def update_definition(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    reply = await caller(UPDATE_DEFINITION, {"input": fields})
    payload: dict[str, Any] = reply.data["updateAttributeDefinition"]
    return payload


async def create_group(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller(CREATE_VIP_GROUP, {"input": fields})).data[
        "createVipGroup"
    ]
    return payload


async def update_group(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller(UPDATE_VIP_GROUP, {"input": fields})).data[
        "updateVipGroup"
    ]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


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
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
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
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
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
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
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
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
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


async def test_retyping_to_select_needs_options_and_drops_a_pattern(demo_org: Org) -> None:
    created = await create_definition(
        demo_org.admin, key="plan", label="Plan", type="TEXT", pattern="[a-z]+"
    )
    plan = created["attributeDefinition"]
    before = await definitions(demo_org.admin)

    refused = await update_definition(demo_org.admin, id=plan["id"], type="SELECT")

    assert codes(refused) == [
        (["input", "options"], "INVALID_VALUE"),
        (["input", "pattern"], "INVALID_VALUE"),
    ]
    assert await definitions(demo_org.admin) == before
    retyped = await update_definition(
        demo_org.admin, id=plan["id"], type="SELECT", options=["Free", "Pro"], pattern=None
    )
    assert retyped["attributeDefinition"] == {
        **plan,
        "type": "SELECT",
        "options": ["Free", "Pro"],
        "pattern": None,
    }


async def test_options_in_use_cannot_be_removed(demo_org: Org) -> None:
    language = await definition(demo_org.admin, "language")
    contact = (await demo_org.agent(FIRST_CONTACT)).data["contacts"]["nodes"][0]["id"]
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


# VIP groups.


async def test_create_a_vip_group(demo_org: Org) -> None:
    billing = await team(demo_org.admin, "Billing")

    payload = await create_group(demo_org.admin, name="  Platinum ", priority=1000, teamId=billing)

    assert payload["userErrors"] == []
    created = payload["vipGroup"]
    assert created == {
        "id": created["id"],
        "name": "Platinum",
        "priority": 1000,
        "team": {"id": billing},
    }
    assert (await vip_groups(demo_org.agent))[0] == created
    plain = await create_group(demo_org.admin, name="Bronze")
    assert plain["vipGroup"] == {
        "id": plain["vipGroup"]["id"],
        "name": "Bronze",
        "priority": 0,
        "team": None,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "gold"}, [(["input", "name"], "ALREADY_EXISTS")]),
        ({"name": " SILVER "}, [(["input", "name"], "ALREADY_EXISTS")]),
        ({"name": " "}, [(["input", "name"], "BLANK")]),
        ({"name": "x" * 101}, [(["input", "name"], "TOO_LONG")]),
        ({"name": "a\x00"}, [(["input", "name"], "INVALID_VALUE")]),
        ({"priority": -1}, [(["input", "priority"], "INVALID_VALUE")]),
        ({"priority": 1001}, [(["input", "priority"], "INVALID_VALUE")]),
        ({"teamId": ids.encode("Team", 10**12)}, [(["input", "teamId"], "NOT_FOUND")]),
        ({"teamId": "garbage"}, [(["input", "teamId"], "NOT_FOUND")]),
        (
            {"name": "", "priority": 5000, "teamId": ids.encode("VipGroup", 1)},
            [
                (["input", "name"], "BLANK"),
                (["input", "priority"], "INVALID_VALUE"),
                (["input", "teamId"], "NOT_FOUND"),
            ],
        ),
    ],
)
async def test_create_vip_group_refusals_change_nothing(
    demo_org: Org, fields: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    before = await vip_groups(demo_org.admin)

    payload = await create_group(demo_org.admin, **{"name": "Diamond", **fields})

    assert payload["vipGroup"] is None
    assert codes(payload) == expected
    assert await vip_groups(demo_org.admin) == before


async def test_vip_group_names_and_teams_belong_to_their_organisation(
    demo_org: Org, other_org: Org
) -> None:
    foreign_team = await team(other_org.admin, "Billing")
    before = await vip_groups(demo_org.admin)

    refused = await create_group(demo_org.admin, name="Diamond", teamId=foreign_team)

    assert codes(refused) == [(["input", "teamId"], "NOT_FOUND")]
    assert await vip_groups(demo_org.admin) == before
    # "Gold" exists in the other organisation only once: its own
    other_gold = await vip_group(other_org.admin, "Gold")
    created = await create_group(other_org.admin, name="Diamond")
    assert created["userErrors"] == []
    assert await vip_group(other_org.admin, "Gold") == other_gold


async def test_update_a_vip_group(demo_org: Org) -> None:
    gold = await vip_group(demo_org.admin, "Gold")
    billing = await team(demo_org.admin, "Billing")

    renamed = await update_group(demo_org.admin, id=gold["id"], name="GOLD")
    moved = await update_group(demo_org.admin, id=gold["id"], priority=999, teamId=billing)

    assert renamed["vipGroup"] == {**gold, "name": "GOLD"}
    assert moved["vipGroup"] == {**gold, "name": "GOLD", "priority": 999, "team": {"id": billing}}
    assert await vip_group(demo_org.agent, "GOLD") == moved["vipGroup"]
    kept = await update_group(demo_org.admin, id=gold["id"], name=None, priority=None)
    assert kept["vipGroup"] == moved["vipGroup"]
    untied = await update_group(demo_org.admin, id=gold["id"], teamId=None)
    assert untied["vipGroup"]["team"] is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "silver"}, [(["input", "name"], "ALREADY_EXISTS")]),
        ({"name": ""}, [(["input", "name"], "BLANK")]),
        ({"name": "x" * 101}, [(["input", "name"], "TOO_LONG")]),
        ({"priority": 1001}, [(["input", "priority"], "INVALID_VALUE")]),
        ({"teamId": ids.encode("Team", 10**12)}, [(["input", "teamId"], "NOT_FOUND")]),
        ({"id": ids.encode("VipGroup", 10**12)}, [(["input", "id"], "NOT_FOUND")]),
        ({"id": "garbage"}, [(["input", "id"], "NOT_FOUND")]),
    ],
)
async def test_update_vip_group_refusals_change_nothing(
    demo_org: Org, fields: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    gold = await vip_group(demo_org.admin, "Gold")
    before = await vip_groups(demo_org.admin)

    payload = await update_group(demo_org.admin, **{"id": gold["id"], **fields})

    assert payload["vipGroup"] is None
    assert codes(payload) == expected
    assert await vip_groups(demo_org.admin) == before


async def test_update_refuses_a_foreign_vip_group(demo_org: Org, other_org: Org) -> None:
    foreign = await vip_group(other_org.admin, "Gold")

    payload = await update_group(demo_org.admin, id=foreign["id"], priority=0)

    assert codes(payload) == [(["input", "id"], "NOT_FOUND")]
    assert await vip_group(other_org.admin, "Gold") == foreign


# Administrators only.


async def test_agents_may_not_use_admin_mutations(demo_org: Org) -> None:
    bio = await definition(demo_org.admin, "bio")
    gold = await vip_group(demo_org.admin, "Gold")
    definitions_before = await definitions(demo_org.admin)
    groups_before = await vip_groups(demo_org.admin)
    attempts = [
        (CREATE_DEFINITION, {"key": "sneaky", "label": "Sneaky", "type": "TEXT"}),
        (UPDATE_DEFINITION, {"id": bio["id"], "label": "Sneaky", "archived": True}),
        (CREATE_VIP_GROUP, {"name": "Sneaky", "priority": 1000}),
        (UPDATE_VIP_GROUP, {"id": gold["id"], "priority": 1000}),
    ]
    for mutation, fields in attempts:
        reply = await demo_org.agent(mutation, {"input": fields})

        assert reply.codes == ["FORBIDDEN"], mutation
        assert reply.body["data"] is None
    assert await definitions(demo_org.admin) == definitions_before
    assert await vip_groups(demo_org.admin) == groups_before


async def test_forbidden_comes_before_any_check_of_the_input(demo_org: Org) -> None:
    reply = await demo_org.agent(UPDATE_VIP_GROUP, {"input": {"id": "garbage", "priority": -5}})
    assert reply.codes == ["FORBIDDEN"]
    assert reply.errors[0]["message"] == "Only administrators can do this"
