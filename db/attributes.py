"""Attribute definitions and contacts' attribute values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class AttributeDefinition:
    organization_id: int
    id: int
    key: str
    label: str
    kind: str
    type: str
    options: list[str]
    pattern: str | None
    description: str | None
    editable: bool
    position: int
    archived: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttributeValue:
    organization_id: int
    contact_id: int
    definition_id: int
    value: str
    updated_at: datetime
    updated_by: int | None


DEFINITION_COLUMNS = (
    "organization_id, id, key, label, kind, type, options, pattern, description, editable,"
    " position, archived, created_at, updated_at"
)
VALUE_COLUMNS = "organization_id, contact_id, definition_id, value, updated_at, updated_by"


async def definitions_of_organization(
    conn: asyncpg.Connection, organization_id: int
) -> list[AttributeDefinition]:
    """Every definition, archived ones included, by position then id."""
    rows = await conn.fetch(
        f"SELECT {DEFINITION_COLUMNS} FROM attribute_definitions WHERE organization_id = $1"
        " ORDER BY position, id",
        organization_id,
    )
    return [AttributeDefinition(**row) for row in rows]


async def values_by_contact_ids(
    conn: asyncpg.Connection, organization_id: int, contact_ids: Sequence[int]
) -> list[AttributeValue]:
    rows = await conn.fetch(
        f"SELECT {VALUE_COLUMNS} FROM contact_attribute_values"
        " WHERE organization_id = $1 AND contact_id = ANY($2::bigint[])",
        organization_id,
        contact_ids,
    )
    return [AttributeValue(**row) for row in rows]
