"""Organisations and the common attribute definitions every one of them has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from db.tenancy import set_organization


class OrganizationExists(Exception):
    """An organisation of that name exists already."""


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    crm_name: str | None
    created_at: datetime
    # Changes whenever the organisation's attribute definitions do (migration 0009); read
    # by authentication, None where it was not read.
    attribute_definitions_version: UUID | None = None


# Every organisation has these; they cannot be archived or retyped.
COMMON_ATTRIBUTES = (
    ("email", "Email", "EMAIL", 0),
    ("phone", "Phone", "PHONE", 1),
    ("url", "URL", "URL", 2),
)


async def create_organization(
    conn: asyncpg.Connection, name: str, *, crm_name: str | None = None
) -> Organization:
    """Creates the organisation with its common attribute definitions, in one transaction.
    Raises OrganizationExists when the name (case-insensitively) is taken."""
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO organizations (name, crm_name) VALUES ($1, $2)"
                " RETURNING id, name, crm_name, created_at",
                name,
                crm_name,
            )
        except asyncpg.UniqueViolationError as exc:
            raise OrganizationExists(name) from exc
        assert row is not None
        organization = Organization(**row)
        await set_organization(conn, organization.id)
        await conn.executemany(
            "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, position)"
            " VALUES ($1, $2, $3, 'COMMON', $4, $5)",
            [(organization.id, *common) for common in COMMON_ATTRIBUTES],
        )
    return organization


async def find_organization(conn: asyncpg.Connection, name: str) -> Organization | None:
    """The organisation of that name, compared case-insensitively."""
    row = await conn.fetchrow(
        "SELECT id, name, crm_name, created_at FROM organizations WHERE lower(name) = lower($1)",
        name,
    )
    return None if row is None else Organization(**row)


async def get_organization(conn: asyncpg.Connection, organization_id: int) -> Organization | None:
    row = await conn.fetchrow(
        "SELECT id, name, crm_name, created_at FROM organizations WHERE id = $1", organization_id
    )
    return None if row is None else Organization(**row)


async def has_organizations(conn: asyncpg.Connection) -> bool:
    """Whether the database holds any organisation (as the owner, who sees them all)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organizations)"))
