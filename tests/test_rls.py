"""Row-level security, the second wall: the server's role (inbox_app) sees the rows of the
organisation its transaction is bound to, and nothing else, even when a query forgets
the organisation filter; the binding never outlives the transaction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from starlette.applications import Starlette

from db.tenancy import organization_transaction
from resolvers.auth import token_sha256
from tests.conftest import Org

TENANT_TABLES = """
SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE n.nspname = 'public' AND c.relkind = 'r'
   AND a.attname = 'organization_id' AND NOT a.attisdropped
 ORDER BY c.relname
"""
APP_ROLE = """
SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit
  FROM pg_roles WHERE rolname = 'inbox_app'
"""
OWNED_BY_APP = """
SELECT (SELECT count(*) FROM pg_class WHERE relowner = 'inbox_app'::regrole)
     + (SELECT count(*) FROM pg_proc WHERE proowner = 'inbox_app'::regrole)
     + (SELECT count(*) FROM pg_namespace WHERE nspowner = 'inbox_app'::regrole)
"""
MEMBER_OF_OWNER = """
SELECT pg_has_role('inbox_app', c.relowner, 'MEMBER') FROM pg_class c WHERE c.relname = 'contacts'
"""
SETTING = "SELECT current_setting('app.organization_id', true)"
CONTACT_ORGANIZATIONS = "SELECT DISTINCT organization_id FROM contacts"


def _count_unfiltered(table: str) -> str:
    # Deliberately no `WHERE organization_id = …`: only row-level security filters.
    return (
        "SELECT count(*) AS rows, count(*) FILTER (WHERE organization_id <> $1) AS foreign_rows"
        f" FROM {table}"
    )


async def _tenant_tables(owner: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await owner.fetch(TENANT_TABLES))


async def _with_revisions(owner: asyncpg.Connection) -> None:
    """Rows in the tables the demo data leaves empty."""
    await owner.execute(
        "INSERT INTO note_revisions (organization_id, note_id, body, edited_by)"
        " SELECT organization_id, id, 'before', author_id FROM notes"
    )


def _unset(value: str | None) -> bool:
    return value is None or value == ""


async def test_the_server_connects_as_inbox_app(app: Starlette) -> None:
    async with app.state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "inbox_app"
        assert await conn.fetchval("SELECT session_user") == "inbox_app"


async def test_inbox_app_is_no_superuser_owner_or_bypasser(owner: asyncpg.Connection) -> None:
    role = await owner.fetchrow(APP_ROLE)

    assert role is not None
    assert not role["rolsuper"]
    assert not role["rolbypassrls"]
    assert not role["rolcreaterole"]
    assert not role["rolcreatedb"]
    assert await owner.fetchval(OWNED_BY_APP) == 0
    assert await owner.fetchval(MEMBER_OF_OWNER) is False


async def test_every_tenant_table_enables_and_forces_row_level_security(
    owner: asyncpg.Connection,
) -> None:
    tables = await _tenant_tables(owner)

    assert {"contacts", "notes", "agents", "messages"} <= {t["name"] for t in tables}
    for table in tables:
        assert table["enabled"], table["name"]
        # agent_tokens is read by authenticate() alone; inbox_app may not touch it at all.
        assert table["forced"] or table["name"] == "agent_tokens", table["name"]


async def test_inbox_app_cannot_read_tokens(app: Starlette, demo_org: Org) -> None:
    async with app.state.pool.acquire() as conn:
        async with organization_transaction(conn, demo_org.id):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="agent_tokens"):
                await conn.fetchval("SELECT count(*) FROM agent_tokens")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT token_sha256 FROM agent_tokens LIMIT 1")


async def test_inbox_app_cannot_turn_row_level_security_off(app: Starlette, demo_org: Org) -> None:
    async with app.state.pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL row_security = off")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.fetchval("SELECT count(*) FROM contacts")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await conn.execute("ALTER TABLE contacts DISABLE ROW LEVEL SECURITY")


async def test_a_query_without_the_organisation_filter_sees_only_its_organisation(
    app: Starlette, owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    # given: both organisations have rows in every table inbox_app may read
    await _with_revisions(owner)
    tables = [t["name"] for t in await _tenant_tables(owner) if t["name"] != "agent_tokens"]
    theirs = {
        table: await owner.fetchval(
            f"SELECT count(*) FROM {table} WHERE organization_id = $1", other_org.id
        )
        for table in tables
    }
    ours = {
        table: await owner.fetchval(
            f"SELECT count(*) FROM {table} WHERE organization_id = $1", demo_org.id
        )
        for table in tables
    }
    assert all(theirs[t] > 0 for t in ("contacts", "notes", "note_revisions", "messages"))

    # when: the server's role, bound to the demo organisation, forgets the filter
    seen = {}
    async with app.state.pool.acquire() as conn, organization_transaction(conn, demo_org.id):
        for table in tables:
            seen[table] = tuple(await conn.fetchrow(_count_unfiltered(table), demo_org.id))
        organizations = await conn.fetch("SELECT id FROM organizations")

    # then: its own rows, all of them, and none of the other organisation's
    assert seen == {table: (ours[table], 0) for table in tables}
    assert [row["id"] for row in organizations] == [demo_org.id]


async def test_writes_cannot_reach_another_organisation(
    app: Starlette, owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    before = await owner.fetch(
        "SELECT id, name FROM contacts WHERE organization_id = $1 ORDER BY id", other_org.id
    )

    async with app.state.pool.acquire() as conn, organization_transaction(conn, demo_org.id):
        updated = await conn.execute(
            "UPDATE contacts SET name = 'taken over' WHERE organization_id = $1", other_org.id
        )
        deleted = await conn.execute("DELETE FROM notes WHERE organization_id = $1", other_org.id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO teams (organization_id, name) VALUES ($1, 'Intruders')",
                    other_org.id,
                )

    assert (updated, deleted) == ("UPDATE 0", "DELETE 0")
    after = await owner.fetch(
        "SELECT id, name FROM contacts WHERE organization_id = $1 ORDER BY id", other_org.id
    )
    assert after == before
    assert await owner.fetchval("SELECT count(*) FROM teams WHERE name = 'Intruders'") == 0


async def test_without_an_organisation_nothing_is_visible(
    app: Starlette, owner: asyncpg.Connection, demo_org: Org, other_org: Org
) -> None:
    tables = [t["name"] for t in await _tenant_tables(owner) if t["name"] != "agent_tokens"]

    async with app.state.pool.acquire() as conn:
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in tables}
        organizations = await conn.fetchval("SELECT count(*) FROM organizations")

    assert counts == dict.fromkeys(tables, 0)
    assert organizations == 0


async def test_a_pooled_connection_reused_by_another_organisation_sees_none_of_the_first(
    app: Starlette, demo_org: Org, other_org: Org
) -> None:
    async with app.state.pool.acquire() as conn:
        async with organization_transaction(conn, demo_org.id):
            first = {row[0] for row in await conn.fetch(CONTACT_ORGANIZATIONS)}
        between = await conn.fetchval(SETTING)
        unbound = await conn.fetchval("SELECT count(*) FROM contacts")
        async with organization_transaction(conn, other_org.id):
            second = {row[0] for row in await conn.fetch(CONTACT_ORGANIZATIONS)}

    assert first == {demo_org.id}
    assert _unset(between)
    assert unbound == 0
    assert second == {other_org.id}


async def test_requests_leave_no_organisation_on_the_pooled_connections(
    app: Starlette, demo_org: Org, other_org: Org
) -> None:
    # given: requests of both organisations, some at once, through the pool
    callers = [demo_org.agent, other_org.agent, demo_org.admin, other_org.admin] * 3
    replies = await asyncio.gather(*(caller("{ contacts { totalCount } }") for caller in callers))
    assert {reply.data["contacts"]["totalCount"] for reply in replies} == {50}

    # when: every connection of the pool is borrowed at once
    pool: asyncpg.Pool = app.state.pool
    borrowed = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        settings = [await conn.fetchval(SETTING) for conn in borrowed]
        visible = [await conn.fetchval("SELECT count(*) FROM contacts") for conn in borrowed]
    finally:
        for conn in borrowed:
            await pool.release(conn)

    # then: none is bound to an organisation, none sees a contact
    assert all(_unset(value) for value in settings), settings
    assert visible == [0] * len(borrowed)


async def test_authentication_binds_the_transaction_only(
    app: Starlette, owner: asyncpg.Connection, demo_org: Org
) -> None:
    assert demo_org.agent.token is not None
    digest = token_sha256(demo_org.agent.token)

    async with app.state.pool.acquire() as conn:
        async with conn.transaction():
            agent = await conn.fetchrow("SELECT id, organization_id FROM authenticate($1)", digest)
            during = await conn.fetchval(SETTING)
        after = await conn.fetchval(SETTING)
        unknown = await conn.fetch("SELECT * FROM authenticate($1)", bytes(32))

    assert agent is not None
    assert (agent["id"], agent["organization_id"]) == (demo_org.agent_id, demo_org.id)
    assert during == str(demo_org.id)
    assert _unset(after)
    assert unknown == []
