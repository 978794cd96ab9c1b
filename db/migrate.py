"""Ordered SQL migrations, each applied once, in its own transaction, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any constant both servers agree on; two servers starting at once queue on it.
_LOCK_KEY = 0x1B0C_C0_47AC7


class MigrationError(Exception):
    """An applied migration no longer matches its file, or a file is missing."""


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
    """Applies the migrations not applied yet and returns their names.

    Raises MigrationError, before applying anything, when an applied migration's file
    changed or disappeared.
    """
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
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
        by_name = {m.name: m for m in migrations}
        for name, checksum in sorted(applied.items()):
            if name not in by_name:
                raise MigrationError(f"applied migration {name} has no file in {directory}")
            if by_name[name].checksum != checksum:
                raise MigrationError(
                    f"migration {name} was changed after it was applied "
                    f"(checksum {checksum[:12]} recorded, {by_name[name].checksum[:12]} on disk); "
                    "add a new migration instead of editing an applied one"
                )
        done = []
        for migration in migrations:
            if migration.name in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
