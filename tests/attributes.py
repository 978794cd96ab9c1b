"""Operations and helpers the attribute tests share: contacts' values (set, clear, read
back) and definitions (create, update, list)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import GraphQL, Org

USER_ERRORS = "userErrors { field message code }"
ATTRIBUTE_FIELDS = """
  key label kind type value editable updatedAt updatedBy { id name } definition { id key }
"""
DEFINITION_FIELDS = "id key label kind type options pattern description editable position archived"

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

CONTACT = f"""
query ($id: ID!) {{
  contact(id: $id) {{ id updatedAt attributes {{ {ATTRIBUTE_FIELDS} }} }}
}}
"""

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"

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

DEFINITIONS = f"{{ attributeDefinitions(includeArchived: true) {{ {DEFINITION_FIELDS} }} }}"

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


async def definitions(caller: GraphQL) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await caller(DEFINITIONS)).data["attributeDefinitions"]
    return found


async def definition(caller: GraphQL, key: str) -> dict[str, Any]:
    return next(d for d in await definitions(caller) if d["key"] == key)


async def create_definition(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    reply = await caller(CREATE_DEFINITION, {"input": fields})
    payload: dict[str, Any] = reply.data["createAttributeDefinition"]
    return payload


async def update_definition(caller: GraphQL, **fields: Any) -> dict[str, Any]:
    reply = await caller(UPDATE_DEFINITION, {"input": fields})
    payload: dict[str, Any] = reply.data["updateAttributeDefinition"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    """(field, code) of each of the payload's user errors."""
    return [(error["field"], error["code"]) for error in payload["userErrors"]]
