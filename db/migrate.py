"""Ordered SQL migrations, each applied once, in its own transaction, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any constant every server agrees on: servers starting at once on one database queue on
# it (advisory locks are per database, so other databases of the cluster are not held up).
LOCK_KEY = 0x1B0CC047AC7


class MigrationError(Exception):
    """A migration cannot be applied, an applied one no longer matches its file, or its
    file is missing. The message names the file."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The `*.sql` files of `directory`, in name order."""
    return [
        Migration(path.name, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.sql"))
    ]


async def migrate(conn: asyncpg.Connection, *, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies the migrations not applied yet, in name order, and returns their names.

    Raises MigrationError when an applied migration's file changed or disappeared
    (before applying anything), and when a migration fails (its transaction is rolled
    back; the ones before it stay applied).
    """
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            row["name"]: row["checksum"]
            for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
        }
        _check_applied(applied, {m.name: m for m in migrations}, directory)
        done = []
        for migration in migrations:
            if migration.name not in applied:
                await _apply(conn, migration)
                done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


def _check_applied(applied: dict[str, str], on_disk: dict[str, Migration], directory: Path) -> None:
    for name, checksum in sorted(applied.items()):
        migration = on_disk.get(name)
        if migration is None:
            raise MigrationError(f"applied migration {name} has no file in {directory}")
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {name} was changed after it was applied "
                f"(checksum {checksum[:12]} recorded, {migration.checksum[:12]} on disk); "
                "add a new migration instead of editing an applied one"
            )
    # Files apply in name order: one named before the newest applied would run after it
    # here but before it on a new database, so the two would end up different.
    newest = max(applied, default=None)
    for name in sorted(on_disk):
        if newest is not None and name not in applied and name < newest:
            raise MigrationError(
                f"migration {name} sorts before {newest}, which is already applied; "
                "give it a name after the newest migration"
            )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
