"""Connection URLs and pools.

Two roles reach the database: the owner (DATABASE_URL), which runs migrations and the
command line, and `inbox_app`, which the server's pool uses and which row-level security
binds to one organisation per transaction.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

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


async def _keep_session(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset (RESET ALL, UNLISTEN, advisory unlocks) is a round trip per
    # request for state this application never leaves behind: it sets the organisation
    # with set_config(..., true), which ends with the transaction, and it neither
    # listens, locks nor keeps cursors. An open transaction is still rolled back by the
    # pool before this runs.
    return None


# Prepared statements are planned once per connection, not at every execution. By default
# PostgreSQL plans a statement anew for its parameters whenever the plan for unknown
# parameters is estimated dearer, and for a batch of ids (`id = ANY($2::bigint[])`) it
# always is: the loaders' statements were planned at every request, which cost the
# database more than running them (0.5 ms of the 1.2 ms it spent on a contact panel).
# Their plans do not depend on the values: the same index scans either way. The search
# functions, whose plans do, keep the default (migration 0008).
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        # Statements are prepared and cached per connection; the server's SQL is a fixed set.
        statement_cache_size=256,
        server_settings=SERVER_SETTINGS,
        init=_load_codecs,
        reset=_keep_session,
    )
    assert pool is not None
    return pool
