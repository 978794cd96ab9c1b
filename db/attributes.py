"""Attribute definitions and contacts' attribute values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from itertools import repeat
from typing import Any, TypeAlias

import asyncpg

from db.records import instances, made


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
    value: str | None  # None: cleared (by updated_by at updated_at)
    updated_at: datetime
    updated_by: int | None


DEFINITION_COLUMNS = (
    "organization_id, id, key, label, kind, type, options, pattern, description, editable,"
    " position, archived, created_at, updated_at"
)
VALUE_COLUMNS = "organization_id, contact_id, definition_id, value, updated_at, updated_by"

# A contact's values as columns of a statement that reads contacts (as `c`), for
# contact_values(): the contacts and their values in one round trip instead of two. One
# array per field (nulls when the contact has no value): arrays of plain types decode
# faster than an array of rows.
CONTACT_VALUES_JOIN = (
    " CROSS JOIN LATERAL (SELECT array_agg(v.definition_id) AS definition_ids,"
    " array_agg(v.value) AS texts, array_agg(v.updated_at) AS times,"
    " array_agg(v.updated_by) AS authors"
    " FROM contact_attribute_values v"
    " WHERE v.organization_id = c.organization_id AND v.contact_id = c.id) cv"
)
CONTACT_VALUES_COLUMNS = "cv.definition_ids, cv.texts, cv.times, cv.authors"

# The same without the values' history (who set each, and when), for AttributeTexts. On a
# queue page (51 contacts, ~250 values) the history was a third of the statement's
# result: decoding its timestamps cost the server's process 140 µs, and PostgreSQL 30 µs
# more to aggregate them.
CONTACT_TEXTS_JOIN = (
    " CROSS JOIN LATERAL (SELECT array_agg(v.definition_id) AS definition_ids,"
    " array_agg(v.value) AS texts"
    " FROM contact_attribute_values v"
    " WHERE v.organization_id = c.organization_id AND v.contact_id = c.id) cv"
)
CONTACT_TEXTS_COLUMNS = "cv.definition_ids, cv.texts"


@dataclass(frozen=True, slots=True)
class AttributeTexts:
    """A contact's attribute values without their history: `values[i]` is the value of the
    definition `definition_ids[i]` (None where it was cleared), in no particular order."""

    definition_ids: Sequence[int]
    values: Sequence[str | None]


NO_TEXTS = AttributeTexts((), ())

# A contact's values as a statement that reads contacts read them with it.
ContactValues: TypeAlias = list[AttributeValue] | AttributeTexts


class ValuesRead(Enum):
    """What a statement that reads contacts reads of their attribute values with them."""

    NONE = ("", "")
    TEXTS = (f", {CONTACT_TEXTS_COLUMNS}", CONTACT_TEXTS_JOIN)  # AttributeTexts
    FULL = (f", {CONTACT_VALUES_COLUMNS}", CONTACT_VALUES_JOIN)  # AttributeValue

    def __init__(self, columns: str, join: str) -> None:
        self.columns = columns  # to append to the statement's columns
        self.join = join  # to append to its FROM clause, after the contacts (`c`)

    def of(
        self, organization_id: int, contact_id: int, columns: Sequence[Any]
    ) -> ContactValues | None:
        """A contact's values in the `columns` this read added to its row (None for NONE)."""
        if self is ValuesRead.FULL:
            return contact_values(organization_id, contact_id, *columns)
        if self is ValuesRead.TEXTS:
            definition_ids, texts = columns
            return NO_TEXTS if definition_ids is None else AttributeTexts(definition_ids, texts)
        return None


def contact_values(
    organization_id: int,
    contact_id: int,
    definition_ids: list[int] | None,
    texts: list[str | None] | None,
    times: list[datetime] | None,
    authors: list[int | None] | None,
) -> list[AttributeValue]:
    """The values of the CONTACT_VALUES_COLUMNS of a contact, in no particular order, as
    values_by_contact_ids gives them."""
    if definition_ids is None or texts is None or times is None or authors is None:
        return []
    count = len(definition_ids)
    return made(
        AttributeValue,
        zip(
            repeat(organization_id, count),
            repeat(contact_id, count),
            definition_ids,
            texts,
            times,
            authors,
            strict=True,
        ),
    )


async def definitions_of_organization(
    conn: asyncpg.Connection, organization_id: int
) -> list[AttributeDefinition]:
    """Every definition, archived ones included, by position then id."""
    rows = await conn.fetch(
        f"SELECT {DEFINITION_COLUMNS} FROM attribute_definitions WHERE organization_id = $1"
        " ORDER BY position, id",
        organization_id,
    )
    return instances(AttributeDefinition, rows)


async def values_by_contact_ids(
    conn: asyncpg.Connection, organization_id: int, contact_ids: Sequence[int]
) -> list[AttributeValue]:
    rows = await conn.fetch(
        f"SELECT {VALUE_COLUMNS} FROM contact_attribute_values"
        " WHERE organization_id = $1 AND contact_id = ANY($2::bigint[])",
        organization_id,
        contact_ids,
    )
    return instances(AttributeValue, rows)


# Writes.


class AttributeKeyTaken(Exception):
    """The organisation has a definition with that key already."""


@dataclass(frozen=True, slots=True)
class CrmChange:
    """A change to a CRM-managed value, waiting in crm_outbox for delivery to the CRM."""

    organization_id: int
    id: int
    contact_id: int
    definition_id: int
    key: str
    old_value: str | None
    new_value: str | None
    agent_id: int
    created_at: datetime
    delivered_at: datetime | None


CRM_CHANGE_COLUMNS = (
    "organization_id, id, contact_id, definition_id, key, old_value, new_value, agent_id,"
    " created_at, delivered_at"
)


async def definition_by_key_for_share(
    conn: asyncpg.Connection, organization_id: int, key: str
) -> AttributeDefinition | None:
    """The definition of `key`, share-locked until the transaction ends so that it cannot be
    retyped or lose options while a value is written; None for a miss."""
    row = await conn.fetchrow(
        f"SELECT {DEFINITION_COLUMNS} FROM attribute_definitions"
        " WHERE organization_id = $1 AND key = $2 FOR SHARE",
        organization_id,
        key,
    )
    return None if row is None else AttributeDefinition(**row)


async def definition_for_update(
    conn: asyncpg.Connection, organization_id: int, definition_id: int
) -> AttributeDefinition | None:
    """The definition, locked until the transaction ends; None for a miss."""
    row = await conn.fetchrow(
        f"SELECT {DEFINITION_COLUMNS} FROM attribute_definitions"
        " WHERE organization_id = $1 AND id = $2 FOR UPDATE",
        organization_id,
        definition_id,
    )
    return None if row is None else AttributeDefinition(**row)


async def next_position(conn: asyncpg.Connection, organization_id: int) -> int:
    """One past the highest position in use (0 when there is none); in bigint, as one past
    the highest integer is not an integer."""
    found = await conn.fetchval(
        "SELECT coalesce(max(position)::bigint + 1, 0) FROM attribute_definitions"
        " WHERE organization_id = $1",
        organization_id,
    )
    return int(found)


async def create_definition(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    key: str,
    label: str,
    kind: str,
    type: str,
    options: Sequence[str],
    pattern: str | None,
    description: str | None,
    editable: bool,
    position: int,
) -> AttributeDefinition:
    """Raises AttributeKeyTaken when the key is in use (archived definitions included)."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, options,"
            " pattern, description, editable, position)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            f" RETURNING {DEFINITION_COLUMNS}",
            organization_id,
            key,
            label,
            kind,
            type,
            list(options),
            pattern,
            description,
            editable,
            position,
        )
    except asyncpg.UniqueViolationError as exc:
        raise AttributeKeyTaken(key) from exc
    assert row is not None  # INSERT … RETURNING returns its row
    return AttributeDefinition(**row)


async def update_definition(
    conn: asyncpg.Connection,
    organization_id: int,
    definition_id: int,
    *,
    label: str,
    type: str,
    options: Sequence[str],
    pattern: str | None,
    description: str | None,
    position: int,
    archived: bool,
) -> AttributeDefinition | None:
    """Replaces the editable fields; None for a miss."""
    row = await conn.fetchrow(
        "UPDATE attribute_definitions SET label = $3, type = $4, options = $5, pattern = $6,"
        " description = $7, position = $8, archived = $9, updated_at = now()"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {DEFINITION_COLUMNS}",
        organization_id,
        definition_id,
        label,
        type,
        list(options),
        pattern,
        description,
        position,
        archived,
    )
    return None if row is None else AttributeDefinition(**row)


async def count_values_of_definition(
    conn: asyncpg.Connection, organization_id: int, definition_id: int
) -> int:
    """How many contacts have a (non-cleared) value for the definition."""
    found = await conn.fetchval(
        "SELECT count(*) FROM contact_attribute_values"
        " WHERE organization_id = $1 AND definition_id = $2 AND value IS NOT NULL",
        organization_id,
        definition_id,
    )
    return int(found)


async def values_in_use(
    conn: asyncpg.Connection, organization_id: int, definition_id: int, values: Sequence[str]
) -> list[str]:
    """Those of `values` that some contact has for the definition, sorted."""
    rows = await conn.fetch(
        "SELECT DISTINCT value FROM contact_attribute_values"
        " WHERE organization_id = $1 AND definition_id = $2 AND value = ANY($3::text[])"
        " ORDER BY value",
        organization_id,
        definition_id,
        list(values),
    )
    return [row["value"] for row in rows]


async def value_of(
    conn: asyncpg.Connection, organization_id: int, contact_id: int, definition_id: int
) -> AttributeValue | None:
    row = await conn.fetchrow(
        f"SELECT {VALUE_COLUMNS} FROM contact_attribute_values"
        " WHERE organization_id = $1 AND contact_id = $2 AND definition_id = $3",
        organization_id,
        contact_id,
        definition_id,
    )
    return None if row is None else AttributeValue(**row)


async def put_value(
    conn: asyncpg.Connection,
    organization_id: int,
    contact_id: int,
    definition_id: int,
    value: str | None,
    *,
    agent_id: int,
) -> AttributeValue:
    """Sets (or, with None, clears) the contact's value, stamped with the agent and now()."""
    row = await conn.fetchrow(
        "INSERT INTO contact_attribute_values"
        " (organization_id, contact_id, definition_id, value, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4, now(), $5)"
        " ON CONFLICT (organization_id, contact_id, definition_id) DO UPDATE"
        " SET value = excluded.value, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by"
        f" RETURNING {VALUE_COLUMNS}",
        organization_id,
        contact_id,
        definition_id,
        value,
        agent_id,
    )
    assert row is not None  # an upsert … RETURNING returns its row
    return AttributeValue(**row)


async def record_crm_change(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    contact_id: int,
    definition_id: int,
    key: str,
    old_value: str | None,
    new_value: str | None,
    agent_id: int,
) -> CrmChange:
    """Queues the change for the CRM; call it in the transaction that makes the change."""
    row = await conn.fetchrow(
        "INSERT INTO crm_outbox (organization_id, contact_id, definition_id, key, old_value,"
        " new_value, agent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" RETURNING {CRM_CHANGE_COLUMNS}",
        organization_id,
        contact_id,
        definition_id,
        key,
        old_value,
        new_value,
        agent_id,
    )
    assert row is not None  # INSERT … RETURNING returns its row
    return CrmChange(**row)
