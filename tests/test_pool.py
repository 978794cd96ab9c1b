"""The server's pool: between requests a connection waits in a transaction that has run
nothing, which the next request takes instead of sending BEGIN; nothing else sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from db import pool as pool_db
from resolvers.auth import token_sha256
from resolvers.session import Session
from tests.conftest import Org

APP_BACKENDS = (
    "SELECT pid, state, backend_xid, backend_xmin FROM pg_stat_activity"
    " WHERE usename = $1 AND datname = current_database() ORDER BY pid"
)


@pytest.fixture
async def one_connection(database: str) -> AsyncIterator[tuple[asyncpg.Pool, list[str]]]:
    """A server pool of one connection, and the statements it is sent, in order."""
    pool = await pool_db.create_pool(pool_db.app_url(database), min_size=1, max_size=1)
    sent: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    try:
        yield pool, sent
    finally:
        await pool.close()


async def _read(pool: asyncpg.Pool, key: bytes) -> None:
    session = Session(pool)
    assert await session.authenticate(key) is not None
    await session.run(lambda conn: conn.fetchval("SELECT count(*) FROM contacts"))
    await session.close(commit=False)


async def test_a_request_takes_the_transaction_the_previous_one_opened_as_it_ended(
    one_connection: tuple[asyncpg.Pool, list[str]], demo_org: Org
) -> None:
    pool, sent = one_connection
    assert demo_org.agent.token is not None
    key = token_sha256(demo_org.agent.token)

    # when: two reads, a write, and a read again
    await _read(pool, key)
    await _read(pool, key)
    session = Session(pool)
    assert await session.authenticate(key) is not None
    async with session.write() as conn:
        await conn.execute("SELECT 1")
    await session.close(commit=True)
    await _read(pool, key)

    # then: BEGIN is sent only where no transaction waited (first, and after a commit)
    control = {"BEGIN", "ROLLBACK; BEGIN", "COMMIT"}
    shape = [q if q in control or "SAVEPOINT" in q else q.split()[0] for q in sent]
    authenticate, count = "SELECT", "SELECT"
    assert shape == [
        *("BEGIN", authenticate, count, "ROLLBACK; BEGIN"),
        *(authenticate, count, "ROLLBACK; BEGIN"),
        *(authenticate, "SAVEPOINT request_1", "SELECT", "RELEASE SAVEPOINT request_1", "COMMIT"),
        *("BEGIN", authenticate, count, "ROLLBACK; BEGIN"),
    ]


async def test_a_waiting_connection_holds_no_snapshot_and_no_lock(
    app: Any, demo_org: Org, owner: asyncpg.Connection
) -> None:
    # given: requests that read contacts, notes and conversations
    contact = await demo_org.agent("{ contacts(first: 1) { nodes { id } } }")
    contact_id = contact.data["contacts"]["nodes"][0]["id"]
    await demo_org.agent(
        "query ($id: ID!) { contact(id: $id) { notes(first: 5) { nodes { body } }"
        " conversations(first: 5) { nodes { status } } } }",
        {"id": contact_id},
    )

    # then: the connections they used wait in a transaction that has nothing
    backends = await owner.fetch(APP_BACKENDS, pool_db.APP_ROLE)
    waiting = [b for b in backends if b["state"] == "idle in transaction"]
    assert waiting, backends
    assert all(b["backend_xid"] is None and b["backend_xmin"] is None for b in waiting)
    locks = await owner.fetch(
        "SELECT locktype, relation FROM pg_locks WHERE pid = ANY($1::int[])",
        [b["pid"] for b in waiting],
    )
    assert {lock["locktype"] for lock in locks} == {"virtualxid"}
    # and a table's strongest lock is granted at once, as DDL needs
    await owner.execute("SET lock_timeout = '2s'")
    async with owner.transaction():
        await owner.execute("LOCK TABLE contacts, notes, conversations IN ACCESS EXCLUSIVE MODE")


async def test_a_connection_borrowed_outside_requests_is_outside_any_transaction(
    app: Any, demo_org: Org, owner: asyncpg.Connection
) -> None:
    # given: a request left its connection waiting
    await demo_org.agent("{ viewer { id } }")

    # when: everything in the pool is borrowed, as a maintenance task might
    pool: asyncpg.Pool = app.state.pool
    borrowed = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        # then: no borrower is in a transaction, and what one writes is committed at once
        assert not any(conn.is_in_transaction() for conn in borrowed)
        await borrowed[0].execute(
            "SELECT set_config('app.organization_id', $1, false)", str(demo_org.id)
        )
        await borrowed[0].execute(
            "UPDATE contacts SET name = 'Committed' WHERE id = (SELECT min(id) FROM contacts)"
        )
    finally:
        await borrowed[0].execute("RESET app.organization_id")
        for conn in borrowed:
            await pool.release(conn)
    assert await owner.fetchval("SELECT count(*) FROM contacts WHERE name = 'Committed'") == 1


async def test_a_server_wide_idle_in_transaction_timeout_does_not_end_a_waiting_connection(
    database: str, owner: asyncpg.Connection
) -> None:
    await owner.execute(
        f"ALTER ROLE {pool_db.APP_ROLE} SET idle_in_transaction_session_timeout = '50ms'"
    )
    try:
        pool = await pool_db.create_pool(pool_db.app_url(database), min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                timeout = await conn.fetchval("SHOW idle_in_transaction_session_timeout")
        finally:
            await pool.close()
    finally:
        await owner.execute(
            f"ALTER ROLE {pool_db.APP_ROLE} RESET idle_in_transaction_session_timeout"
        )

    assert timeout == "0"
