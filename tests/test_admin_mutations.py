"""createVipGroup and updateVipGroup, and what every admin mutation shares: administrators
only. Every refusal is read back to prove nothing changed. (Attribute definitions:
tests/test_attribute_definitions.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from resolvers import ids
from tests.attributes import (
    CREATE_DEFINITION,
    UPDATE_DEFINITION,
    USER_ERRORS,
    codes,
    definition,
    definitions,
)
from tests.conftest import GraphQL, Org

VIP_GROUP_FIELDS = "id name priority team { id }"

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

VIP_GROUPS = f"{{ vipGroups {{ {VIP_GROUP_FIELDS} }} }}"
TEAMS = "{ teams { id name } }"


async def vip_groups(caller: GraphQL) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await caller(VIP_GROUPS)).data["vipGroups"]
    return found


async def vip_group(caller: GraphQL, name: str) -> dict[str, Any]:
    return next(g for g in await vip_groups(caller) if g["name"] == name)


async def team(caller: GraphQL, name: str) -> str:
    found: str = next(t["id"] for t in (await caller(TEAMS)).data["teams"] if t["name"] == name)
    return found


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


async def test_update_refuses_a_team_of_another_organisation(demo_org: Org, other_org: Org) -> None:
    gold = await vip_group(demo_org.admin, "Gold")
    foreign_team = await team(other_org.admin, "Billing")
    before = await vip_groups(demo_org.admin)
    other_before = await vip_groups(other_org.admin)

    payload = await update_group(demo_org.admin, id=gold["id"], name="Moved", teamId=foreign_team)

    assert payload == {
        "vipGroup": None,
        "userErrors": [
            {"field": ["input", "teamId"], "message": "No team has this id", "code": "NOT_FOUND"}
        ],
    }
    assert await vip_groups(demo_org.admin) == before
    assert await vip_groups(other_org.admin) == other_before


async def test_names_are_counted_after_trimming(demo_org: Org) -> None:
    name = "N" * 100

    created = await create_group(demo_org.admin, name=f"  {name} ")
    renamed = await update_group(demo_org.admin, id=created["vipGroup"]["id"], name=f"\t{name}\n")

    assert created["userErrors"] == []
    assert created["vipGroup"]["name"] == name
    assert renamed == created
    assert await vip_group(demo_org.admin, name) == created["vipGroup"]


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
