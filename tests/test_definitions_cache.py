"""A worker keeps each organisation's attribute definitions between requests, under the
version authentication reads (migration 0009): a request whose version is the one kept
saves the statement, and a change to the definitions is seen by the next request."""

from __future__ import annotations

import asyncpg

from resolvers.loaders import DEFINITIONS
from tests.attributes import create_definition, first_contact, set_value, update_definition
from tests.conftest import Org

ATTRIBUTES = "{ contacts(first: 2) { nodes { attributes { key label value } } } }"
SET_AND_READ = """
mutation ($input: SetContactAttributeInput!) {
  setContactAttribute(input: $input) {
    contact { attributes { key value } }
    userErrors { code }
  }
}
"""


def keys(data: dict[str, object]) -> list[list[str]]:
    nodes = data["contacts"]["nodes"]  # type: ignore[index]
    return [[attribute["key"] for attribute in node["attributes"]] for node in nodes]


async def test_a_second_request_reads_no_definitions(demo_org: Org) -> None:
    DEFINITIONS.clear()

    first = await demo_org.agent(ATTRIBUTES)
    second = await demo_org.agent(ATTRIBUTES)

    assert second.statements == first.statements - 1
    assert second.data == first.data


async def test_a_change_to_the_definitions_is_seen_by_the_next_request(demo_org: Org) -> None:
    DEFINITIONS.clear()
    before = await demo_org.agent(ATTRIBUTES)
    kept = await demo_org.agent(ATTRIBUTES)
    assert kept.statements == before.statements - 1

    created = await create_definition(demo_org.admin, key="shirt_size", label="Shirt", type="TEXT")
    assert created["userErrors"] == []
    after = await demo_org.agent(ATTRIBUTES)
    assert after.statements == before.statements  # read again
    assert [row[-1] for row in keys(after.data)] == ["shirt_size", "shirt_size"]

    relabelled = await update_definition(
        demo_org.admin, id=created["attributeDefinition"]["id"], label="Shirt size"
    )
    assert relabelled["userErrors"] == []
    renamed = await demo_org.agent(ATTRIBUTES)
    labels = [a["label"] for a in renamed.data["contacts"]["nodes"][0]["attributes"]]
    assert labels[-1] == "Shirt size"


async def test_each_organisation_has_its_own(demo_org: Org, other_org: Org) -> None:
    DEFINITIONS.clear()
    created = await create_definition(demo_org.admin, key="demo_only", label="Demo", type="TEXT")
    assert created["userErrors"] == []

    for _ in range(2):
        demo = keys((await demo_org.agent(ATTRIBUTES)).data)
        other = keys((await other_org.agent(ATTRIBUTES)).data)
        assert all("demo_only" in row for row in demo)
        assert not any("demo_only" in row for row in other)


async def test_what_a_request_read_after_writing_is_not_kept(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    DEFINITIONS.clear()
    contact = await first_contact(demo_org)
    version = await owner.fetchval(
        "SELECT attribute_definitions_version FROM organizations WHERE id = $1", demo_org.id
    )

    # The payload's contact's attributes are read after the write, with the definitions.
    reply = await demo_org.agent(
        SET_AND_READ, {"input": {"contactId": contact, "key": "email", "value": "k@example.com"}}
    )
    payload = reply.data["setContactAttribute"]
    assert payload["userErrors"] == []
    assert {"key": "email", "value": "k@example.com"} in payload["contact"]["attributes"]
    assert DEFINITIONS.get(demo_org.id, version) is None

    first = await demo_org.agent(ATTRIBUTES)
    second = await demo_org.agent(ATTRIBUTES)
    assert DEFINITIONS.get(demo_org.id, version) is not None
    assert second.statements == first.statements - 1


async def test_every_change_of_the_definitions_renews_the_version(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    async def versions() -> dict[int, object]:
        rows = await owner.fetch("SELECT id, attribute_definitions_version FROM organizations")
        return {row["id"]: row["attribute_definitions_version"] for row in rows}

    changes = [
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, position)"
        " VALUES ($1, 'extra', 'Extra', 'CUSTOM', 'TEXT', 50)",
        "UPDATE attribute_definitions SET label = 'More' WHERE organization_id = $1"
        " AND key = 'extra'",
        "DELETE FROM attribute_definitions WHERE organization_id = $1 AND key = 'extra'",
    ]
    for change in changes:
        before = await versions()
        async with owner.transaction():
            await owner.execute(
                "SELECT set_config('app.organization_id', $1, true)", str(demo_org.id)
            )
            await owner.execute(change, demo_org.id)
        after = await versions()
        assert after[demo_org.id] != before[demo_org.id], change
        assert after[other_org.id] == before[other_org.id], change

    # A contact's values are not definitions.
    before = await versions()
    contact = await first_contact(demo_org)
    assert (await set_value(demo_org.agent, contact, "email", "v@example.com"))["userErrors"] == []
    assert await versions() == before

    await owner.execute("TRUNCATE attribute_definitions CASCADE")
    after = await versions()
    assert after[demo_org.id] != before[demo_org.id]
    assert after[other_org.id] != before[other_org.id]
