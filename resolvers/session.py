"""The database side of one GraphQL request: one pooled connection, one transaction.

A request authenticates on its connection, which binds the transaction to the agent's
organisation; every statement of the request then runs in that transaction, one at a
time (an asyncpg connection runs one statement at a time, and loaders run
concurrently). A mutation's writes run in a savepoint, so a mutation that fails leaves
nothing behind; the transaction commits before the response is sent. A request that
wrote nothing is rolled back, in the round trip that opens the connection's next
transaction (db.pool.AppConnection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import agents as agents_db
from db import pool as pool_db
from db.agents import Agent
from db.organizations import Organization


class SaveFailed(Exception):
    """A request's writes were rolled back at its end."""


# What leaves the transaction unusable or in doubt: an error of PostgreSQL (which aborts
# the transaction), a broken connection, a statement cancelled half-way.
_BREAKS_TRANSACTION = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.CancelledError)

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

P = ParamSpec("P")
T = TypeVar("T")


class _Counted:
    """The request's connection as db/ functions get it, counting the statements sent
    through it. (asyncpg's query loggers would count them too, at the price of a
    callback scheduled on the event loop for every statement: 3% of a contact panel.)
    Anything else is the connection's own, but for transaction(): a savepoint, as
    asyncpg's gives in a transaction it began (the request's it did not: see
    db.pool.AppConnection). Transaction control is not counted."""

    __slots__ = ("_conn", "_session")

    def __init__(self, conn: PoolConnectionProxy, session: Session) -> None:
        self._conn = conn
        self._session = session

    def fetch(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[list[asyncpg.Record]]:
        self._session.statements += 1
        return self._conn.fetch(query, *args, **kwargs)

    def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[asyncpg.Record | None]:
        self._session.statements += 1
        return self._conn.fetchrow(query, *args, **kwargs)

    def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        self._session.statements += 1
        return self._conn.fetchval(query, *args, **kwargs)

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[str]:
        if not query.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            self._session.statements += 1
        return self._conn.execute(query, *args, **kwargs)

    def executemany(self, command: str, args: Any, **kwargs: Any) -> Awaitable[None]:
        self._session.statements += 1
        return self._conn.executemany(command, args, **kwargs)

    def transaction(self) -> _Savepoint:
        self._session.savepoints += 1
        return _Savepoint(self, f"request_{self._session.savepoints}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _Savepoint:
    """A block whose statements are undone if it raises, and kept otherwise."""

    __slots__ = ("_counted", "_name")

    def __init__(self, counted: _Counted, name: str) -> None:
        self._counted = counted
        self._name = name

    async def __aenter__(self) -> None:
        await self._counted._conn.execute(f"SAVEPOINT {self._name}")

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        conn = self._counted._conn
        if exc_type is None:
            await conn.execute(f"RELEASE SAVEPOINT {self._name}")
            return
        try:
            await conn.execute(f"ROLLBACK TO SAVEPOINT {self._name}")
        except _BREAKS_TRANSACTION:
            # The transaction is then in doubt and will not commit; the block's own
            # error is the one to report.
            self._counted._session.failed = True


class Session:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: _Counted | None = None
        self._lock = asyncio.Lock()
        self._wrote = False  # a mutation ran: there is something to commit
        self.failed = False  # a statement failed: PostgreSQL may have aborted the transaction
        self.savepoints = 0  # made so far, for their names
        self.statements = 0  # SQL statements sent, transaction control excepted

    async def authenticate(self, token_sha256: bytes) -> tuple[Agent, Organization] | None:
        """Opens the request's transaction and returns the token's agent, or None (and
        then releases the connection)."""
        conn = await pool_db.acquire_for_request(self._pool)
        self._conn = _Counted(conn, self)
        try:
            found = await agents_db.authenticate(self._connection(), token_sha256)
        except BaseException:
            await self.close(commit=False)
            raise
        if found is None:
            await self.close(commit=False)
        return found

    async def run(
        self,
        query: Callable[Concatenate[asyncpg.Connection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Runs one db/ function on the request's connection, after any running one."""
        async with self._lock:
            conn = self._connection()
            try:
                return await query(conn, *args, **kwargs)
            except _BREAKS_TRANSACTION:
                self.failed = True
                raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[asyncpg.Connection]:
        """Exclusive use of the connection inside a savepoint, rolled back if the block
        raises."""
        async with self._lock:
            conn = self._connection()
            self._wrote = True
            try:
                async with conn.transaction():
                    yield conn
            except _BREAKS_TRANSACTION:
                self.failed = True
                raise

    async def close(self, *, commit: bool) -> None:
        """Ends the transaction and returns the connection, once any statement still
        running (a loader's batch outliving the field that asked for it) is done.

        With `commit`, raises SaveFailed when a mutation's writes may not have been saved:
        a statement of the request failed (PostgreSQL then aborts the transaction and
        turns COMMIT into a silent ROLLBACK) or the commit itself failed. A request that
        wrote nothing is rolled back instead: there is nothing to save.
        """
        async with self._lock:
            counted, self._conn = self._conn, None
            if counted is None:
                return
            conn = counted._conn
            try:
                if commit and self._wrote and not self.failed:
                    await conn.execute("COMMIT")
                else:
                    await cast(pool_db.AppConnection, conn).rollback_and_wait()
            finally:
                await self._pool.release(conn)
            if commit and self._wrote and self.failed:
                raise SaveFailed("a statement of the request failed; its writes were rolled back")

    @property
    def wrote(self) -> bool:
        """Whether a write has begun: from then on, what the request reads may hold
        changes no other request can see yet."""
        return self._wrote

    def _connection(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the request has no open database session")
        # The wrapper forwards everything to its connection; db/ functions take either.
        return cast(asyncpg.Connection, self._conn)
