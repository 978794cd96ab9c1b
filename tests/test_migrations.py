"""The migration runner, on databases created empty for each test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from db.migrate import LOCK_KEY, MigrationError, load_migrations, migrate
from db.pool import database_url

MIGRATIONS = load_migrations()
NAMES = [migration.name for migration in MIGRATIONS]
TABLES = {
    "organizations",
    "agents",
    "agent_tokens",
    "teams",
    "contacts",
    "attribute_definitions",
    "contact_attribute_values",
    "vip_groups",
    "conversations",
    "messages",
    "notes",
    "note_revisions",
}
RECORDED = "SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name"
RECORDED_NAMES = "SELECT name FROM schema_migrations ORDER BY name"
PUBLIC_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"


@contextlib.asynccontextmanager
async def throwaway_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database; dropped afterwards, connections or not."""
    name = f"inbox_tmp_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def empty(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a new, empty database."""
    async with throwaway_database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            yield conn
        finally:
            await conn.close()


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name) is True


async def lock_is_free(server_url: str, database: str) -> bool:
    """Whether another session can take the migration lock (and gives it back)."""
    other = await asyncpg.connect(database_url(server_url, database))
    try:
        taken = await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        if taken:
            await other.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        return bool(taken)
    finally:
        await other.close()


async def test_migrations_apply_on_an_empty_database_and_then_do_nothing(
    empty: asyncpg.Connection,
) -> None:
    assert NAMES[:2] == ["0001_schema.sql", "0002_security.sql"]

    assert await migrate(empty) == NAMES

    recorded = await empty.fetch(RECORDED)
    assert [(row["name"], row["checksum"]) for row in recorded] == [
        (migration.name, migration.checksum) for migration in MIGRATIONS
    ]
    assert TABLES - {row["tablename"] for row in await empty.fetch(PUBLIC_TABLES)} == set()

    assert await migrate(empty) == []
    assert await empty.fetch(RECORDED) == recorded


async def test_two_concurrent_runs_apply_each_migration_once(server_url: str) -> None:
    async with throwaway_database(server_url) as url:
        first, second = await asyncpg.connect(url), await asyncpg.connect(url)
        try:
            results = await asyncio.gather(migrate(first), migrate(second))
            counts = await first.fetch(
                "SELECT name, count(*) AS n FROM schema_migrations GROUP BY name ORDER BY name"
            )
        finally:
            await first.close()
            await second.close()

    # One run waited on the lock while the other applied everything.
    assert sorted(results, key=len) == [[], NAMES]
    assert [(row["name"], row["n"]) for row in counts] == [(name, 1) for name in NAMES]


async def test_an_edited_recorded_checksum_stops_the_run_naming_the_file(
    empty: asyncpg.Connection,
) -> None:
    await migrate(empty)
    await empty.execute(
        "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE name = $1", NAMES[0]
    )

    with pytest.raises(MigrationError, match=rf"^migration {NAMES[0]} was changed"):
        await migrate(empty)


async def test_an_edited_migration_file_is_an_error_and_nothing_is_applied(
    empty: asyncpg.Connection, server_url: str, tmp_path: Path
) -> None:
    directory = write(
        tmp_path,
        {"0001_a.sql": "CREATE TABLE a (id int);", "0002_b.sql": "CREATE TABLE b (id int);"},
    )
    assert await migrate(empty, directory=directory) == ["0001_a.sql", "0002_b.sql"]

    write(
        directory, {"0002_b.sql": "CREATE TABLE b (id bigint);", "0003_c.sql": "CREATE TABLE c ();"}
    )
    with pytest.raises(MigrationError, match=r"^migration 0002_b\.sql was changed"):
        await migrate(empty, directory=directory)

    assert [row["name"] for row in await empty.fetch(RECORDED_NAMES)] == [
        "0001_a.sql",
        "0002_b.sql",
    ]
    assert not await table_exists(empty, "c")
    assert await lock_is_free(server_url, await empty.fetchval("SELECT current_database()"))


async def test_a_missing_migration_file_is_an_error_naming_it(
    empty: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write(
        tmp_path,
        {"0001_a.sql": "CREATE TABLE a (id int);", "0002_b.sql": "CREATE TABLE b (id int);"},
    )
    await migrate(empty, directory=directory)
    (directory / "0001_a.sql").unlink()

    with pytest.raises(MigrationError, match=r"^applied migration 0001_a\.sql has no file"):
        await migrate(empty, directory=directory)


async def test_a_new_migration_named_before_an_applied_one_is_an_error(
    empty: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write(
        tmp_path,
        {"0001_a.sql": "CREATE TABLE a (id int);", "0004_d.sql": "CREATE TABLE d (id int);"},
    )
    await migrate(empty, directory=directory)
    write(directory, {"0003_c.sql": "CREATE TABLE c (id int);"})

    with pytest.raises(MigrationError, match=r"^migration 0003_c\.sql sorts before 0004_d\.sql"):
        await migrate(empty, directory=directory)

    assert not await table_exists(empty, "c")


async def test_a_failing_migration_rolls_back_alone_and_can_be_fixed(
    empty: asyncpg.Connection, server_url: str, tmp_path: Path
) -> None:
    directory = write(
        tmp_path,
        {
            "0001_a.sql": "CREATE TABLE a (id int);",
            "0002_b.sql": "CREATE TABLE b (id int); SELECT 1 / 0;",
        },
    )

    with pytest.raises(MigrationError, match=r"^migration 0002_b\.sql failed: division by zero"):
        await migrate(empty, directory=directory)

    assert [row["name"] for row in await empty.fetch(RECORDED_NAMES)] == ["0001_a.sql"]
    assert await table_exists(empty, "a")
    assert not await table_exists(empty, "b")
    assert await lock_is_free(server_url, await empty.fetchval("SELECT current_database()"))

    write(directory, {"0002_b.sql": "CREATE TABLE b (id int);"})
    assert await migrate(empty, directory=directory) == ["0002_b.sql"]
    assert await table_exists(empty, "b")
