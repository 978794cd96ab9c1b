"""Connection URLs and pools.

Two roles reach the database: the owner (DATABASE_URL), which runs migrations and the
command line, and `inbox_app`, which the server's pool uses and which row-level security
binds to one organisation per transaction.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

APP_ROLE = "inbox_app"


def app_url(owner_url: str, *, password: str | None = None) -> str:
    """The owner URL with the user replaced by the application role."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    credentials = APP_ROLE if password is None else f"{APP_ROLE}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def database_url(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def set_app_password(conn: asyncpg.Connection, password: str) -> None:
    """Gives the application role a password (needed where the server is not on trust auth)."""
    # ALTER ROLE takes no parameters; quote_literal keeps the value a literal.
    literal = await conn.fetchval("SELECT quote_literal($1::text)", password)
    await conn.execute(f"ALTER ROLE {APP_ROLE} PASSWORD {literal}")


async def _load_codecs(conn: asyncpg.Connection) -> None:
    # asyncpg looks the codec of a non-core type up (bigint[] among them) with three extra
    # statements the first time a connection meets it. Doing it when the connection opens
    # keeps them out of requests, so a request runs the same statements on every connection.
    await conn.fetchrow("SELECT NULL::bigint[], NULL::text[], NULL::timestamptz[]")


# Prepared statements are planned once per connection, not at every execution. By default
# PostgreSQL plans a statement anew for its parameters whenever the plan for unknown
# parameters is estimated dearer, and for a batch of ids (`id = ANY($2::bigint[])`) it
# always is: the loaders' statements were planned at every request, which cost the
# database more than running them (0.5 ms of the 1.2 ms it spent on a contact panel).
# Their plans do not depend on the values: the same index scans either way. The search
# functions choose for their own statements (migrations 0008 and 0010): count_matching_
# contacts() plans for each term; search_contact_ids() keeps the plan of its fixed
# statement and plans the statements it assembles for their values.
#
# A pooled connection waits between requests in a transaction that has run nothing (see
# AppConnection): by design, so a server-wide idle_in_transaction_session_timeout must not
# end it (it would only cost a reconnection, and a line in the server's log, each time).
SERVER_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",
    "idle_in_transaction_session_timeout": "0",
}

# Set while a request acquires its connection: it takes a waiting transaction as its own.
_for_request: ContextVar[bool] = ContextVar("for_request", default=False)


class AppConnection(asyncpg.Connection):
    """A connection of the server's pool, which waits between requests inside an open
    transaction that has run nothing.

    A request's transaction ends with `ROLLBACK; BEGIN`, one round trip, which opens the
    next request's transaction as it ends this one: a read then makes one round trip
    fewer (BEGIN), and a round trip costs the server's process ~6% of a contact panel's
    time. Nothing is held while it waits: a transaction takes its snapshot, its locks
    and its transaction id at its first statement, so the waiting one holds back neither
    VACUUM nor any DDL (pg_stat_activity shows it as `idle in transaction`, with no
    backend_xmin). The organisation is set per transaction and so was rolled back.

    The waiting transaction is only a request's: `acquire_for_request` takes it; any other
    borrower of the pool gets the connection outside a transaction, as asyncpg's own
    pool gives it (`_outside_requests` rolls the waiting one back). A transaction counts
    as waiting only while no statement ran since it was opened (asyncpg counts the
    statements a connection runs), whoever ran one.
    """

    # The connection's statement count when its waiting transaction was opened.
    _waiting_since: int = -1

    def _statements_run(self) -> int:
        # asyncpg's count of the statements the connection ran (it closes a pool's
        # connections by it, for max_queries); not in its type stubs.
        return int(self._protocol.queries_count)  # type: ignore[attr-defined]

    def waiting(self) -> bool:
        """Whether an open transaction that has run nothing waits for a request."""
        return self._waiting_since == self._statements_run() and self.is_in_transaction()

    async def begin(self) -> None:
        """Opens a transaction: takes the waiting one, else sends BEGIN."""
        if self.waiting():
            self._waiting_since = -1
        else:
            await self.execute("BEGIN")

    async def rollback_and_wait(self) -> None:
        """Rolls the current transaction back and opens the next request's, at once."""
        self._waiting_since = -1
        await self.execute("ROLLBACK; BEGIN")
        self._waiting_since = self._statements_run()

    async def reset(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's)
        """On release to the pool: rolls back anything but a waiting transaction.

        In place of asyncpg's reset, which would also run RESET ALL, UNLISTEN and
        advisory unlocks, a round trip per request for state this application never
        leaves behind: it sets the organisation with set_config(..., true), which ends
        with the transaction, and it neither listens, locks nor keeps cursors."""
        if self.waiting():
            return
        self._waiting_since = -1
        if self.is_in_transaction():
            await self.execute("ROLLBACK")


async def _outside_requests(conn: PoolConnectionProxy[Any]) -> None:
    # The pool's setup, run at every acquisition.
    if not _for_request.get() and cast(AppConnection, conn).waiting():
        await conn.execute("ROLLBACK")


async def acquire_for_request(pool: Any) -> PoolConnectionProxy[Any]:
    """A connection of `pool` (created by create_pool) in an open transaction, waiting
    or begun; the caller ends it and releases the connection. `pool` may be any object
    whose `acquire()` acquires from such a pool."""
    token = _for_request.set(True)
    try:
        conn: PoolConnectionProxy[Any] = await pool.acquire()
    finally:
        _for_request.reset(token)
    try:
        await cast(AppConnection, conn).begin()
    except BaseException:
        await pool.release(conn)
        raise
    return conn


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        # Statements are prepared and cached per connection; the server's SQL is a fixed set.
        statement_cache_size=256,
        server_settings=SERVER_SETTINGS,
        init=_load_codecs,
        setup=_outside_requests,
        connection_class=AppConnection,
    )
    assert pool is not None
    return pool
