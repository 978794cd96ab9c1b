"""Rules PostgreSQL enforces itself, whatever the code above it does, and row-level
security as the server's role (inbox_app) meets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from db import demo
from db.agents import create_agent
from db.organizations import create_organization
from db.pool import APP_ROLE, app_url
from db.tenancy import organization_transaction

INSERT_CONTACT = (
    "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
    " VALUES ($1, 'X', $2, $3, $4) RETURNING id"
)
INSERT_NOTE = (
    "INSERT INTO notes (organization_id, contact_id, body, author_id)"
    " VALUES ($1, $2, $3, $4) RETURNING id"
)
NOTE_BODIES = "SELECT body FROM notes WHERE organization_id = $1 ORDER BY id"
EMAIL_DEFINITION = (
    "SELECT id FROM attribute_definitions WHERE organization_id = $1 AND key = 'email'"
)
INSERT_VALUE = (
    "INSERT INTO contact_attribute_values (organization_id, contact_id, definition_id, value)"
    " VALUES ($1, $2, $3, $4)"
)
TENANT_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid"
    " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'organization_id'"
    " AND NOT a.attisdropped ORDER BY c.relname"
)
ROLE = "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"


@dataclass(frozen=True)
class Tenant:
    organization_id: int
    agent_id: int
    contact_id: int


async def _tenant(owner: asyncpg.Connection, name: str) -> Tenant:
    organization = await create_organization(owner, name)
    async with organization_transaction(owner, organization.id):
        agent = await create_agent(
            owner, organization.id, name=f"{name} Agent", email=f"agent@{name.lower()}.example"
        )
        contact_id = await owner.fetchval(INSERT_CONTACT, organization.id, "u1", "handle", "Cus")
    return Tenant(organization.id, agent.id, contact_id)


@pytest.fixture
async def acme(owner: asyncpg.Connection) -> Tenant:
    return await _tenant(owner, "Acme")


@pytest.fixture
async def globex(owner: asyncpg.Connection, acme: Tenant) -> Tenant:
    return await _tenant(owner, "Globex")


@pytest.fixture
async def app_conn(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the server's pool makes them: role inbox_app, no tenant set."""
    conn = await asyncpg.connect(app_url(database))
    try:
        yield conn
    finally:
        await conn.close()


async def add_note(owner: asyncpg.Connection, tenant: Tenant, body: str) -> int:
    note_id: int = await owner.fetchval(
        INSERT_NOTE, tenant.organization_id, tenant.contact_id, body, tenant.agent_id
    )
    return note_id


async def test_a_note_of_exactly_2000_characters_is_accepted(
    owner: asyncpg.Connection, acme: Tenant
) -> None:
    # Characters, not bytes or code points: the ASCII body has 2,000 with a CR LF pair
    # among them; the other one 2,000 emoji of two code points and eight bytes each.
    ascii_body = "x" * 1998 + "\r\n" + "x"
    emoji_body = "👍🏽" * 2000

    await add_note(owner, acme, ascii_body)
    await add_note(owner, acme, emoji_body)

    stored = {row["body"] for row in await owner.fetch(NOTE_BODIES, acme.organization_id)}
    assert stored == {ascii_body, emoji_body}


@pytest.mark.parametrize(
    "body",
    ["x" * 2001, "x" * 2000 + "\n", "é" * 16_001, "", " ", " \t\r\n "],
    ids=["2001-ascii", "2001-with-newline", "16001-code-points", "empty", "space", "whitespace"],
)
async def test_a_note_too_long_or_blank_is_rejected(
    owner: asyncpg.Connection, acme: Tenant, body: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as caught:
        await add_note(owner, acme, body)

    assert caught.value.constraint_name == "notes_body_check"
    assert await owner.fetch(NOTE_BODIES, acme.organization_id) == []


async def test_a_note_cannot_be_edited_into_a_blank_one(
    owner: asyncpg.Connection, acme: Tenant
) -> None:
    note_id = await add_note(owner, acme, "Prefers email")

    with pytest.raises(asyncpg.CheckViolationError):
        await owner.execute("UPDATE notes SET body = '   ' WHERE id = $1", note_id)

    assert [row["body"] for row in await owner.fetch(NOTE_BODIES, acme.organization_id)] == [
        "Prefers email"
    ]


async def test_a_contact_has_one_value_per_attribute(
    owner: asyncpg.Connection, acme: Tenant
) -> None:
    definition_id = await owner.fetchval(EMAIL_DEFINITION, acme.organization_id)
    await owner.execute(
        INSERT_VALUE, acme.organization_id, acme.contact_id, definition_id, "a@x.example"
    )

    with pytest.raises(asyncpg.UniqueViolationError):
        await owner.execute(
            INSERT_VALUE, acme.organization_id, acme.contact_id, definition_id, "b@x.example"
        )

    values = await owner.fetch(
        "SELECT value FROM contact_attribute_values WHERE organization_id = $1",
        acme.organization_id,
    )
    assert [row["value"] for row in values] == ["a@x.example"]


async def test_a_row_cannot_point_into_another_organisation(
    owner: asyncpg.Connection, acme: Tenant, globex: Tenant
) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await owner.execute(
            INSERT_NOTE, acme.organization_id, globex.contact_id, "Cross-tenant", acme.agent_id
        )

    assert await owner.fetchval("SELECT count(*) FROM notes") == 0


async def test_the_app_role_cannot_bypass_row_level_security(app_conn: asyncpg.Connection) -> None:
    assert await app_conn.fetchval("SELECT current_user") == APP_ROLE
    assert tuple(await app_conn.fetchrow(ROLE) or ()) == (False, False)


async def test_without_an_organisation_the_app_role_sees_nothing(
    owner: asyncpg.Connection, app_conn: asyncpg.Connection
) -> None:
    await demo.seed_demo(owner, "Demo")
    tables = [row["relname"] for row in await owner.fetch(TENANT_TABLES)]
    filled = [t for t in tables if await owner.fetchval(f"SELECT count(*) FROM {t}") > 0]
    assert {"agents", "contacts", "conversations", "messages", "notes"} - set(filled) == set()

    for table in filled:
        if table == "agent_tokens":
            continue  # no privilege at all; see below
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await app_conn.fetchval("SELECT count(*) FROM organizations") == 0

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.fetchval("SELECT count(*) FROM agent_tokens")


async def test_the_app_role_sees_and_writes_only_its_organisation(
    owner: asyncpg.Connection, app_conn: asyncpg.Connection, acme: Tenant, globex: Tenant
) -> None:
    async with organization_transaction(app_conn, acme.organization_id):
        organizations = await app_conn.fetch("SELECT id FROM organizations")
        contacts = await app_conn.fetch("SELECT organization_id, id FROM contacts")
        assert [row["id"] for row in organizations] == [acme.organization_id]
        assert [tuple(row) for row in contacts] == [(acme.organization_id, acme.contact_id)]

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with organization_transaction(app_conn, acme.organization_id):
            await app_conn.execute(
                INSERT_CONTACT, globex.organization_id, "u2", "intruder", "Intruder"
            )
    # Bound to the transaction only: once it ends, the connection sees nothing again.
    assert await app_conn.fetchval("SELECT count(*) FROM contacts") == 0
    assert await owner.fetchval("SELECT count(*) FROM contacts") == 2
