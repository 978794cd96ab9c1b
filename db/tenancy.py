"""Binding a transaction to one organisation, for row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


async def set_organization(conn: asyncpg.Connection, organization_id: int) -> None:
    """Names the organisation for the rest of the current transaction (never the session:
    a pooled connection must not carry it to its next borrower)."""
    await conn.execute("SELECT set_config('app.organization_id', $1, true)", str(organization_id))


@asynccontextmanager
async def organization_transaction(
    conn: asyncpg.Connection, organization_id: int
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction in which row-level security admits `organization_id`'s rows."""
    async with conn.transaction():
        await set_organization(conn, organization_id)
        yield conn
