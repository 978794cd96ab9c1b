"""`python server.py` without DATABASE_URL: the embedded PostgreSQL, its data kept across
restarts, and the wheel's list of processes using the server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

import server
from db.embedded import HANDLES_FILE, forget_dead_handles

SERVER = Path(server.__file__).resolve()
VIEWER = {"query": "{ viewer { name role } }"}
TOKEN = re.compile(r"^\s+token: (\S+)$", re.MULTILINE)
STARTUP_SECONDS = 90


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def postgres_pids(pgdata: Path) -> list[int]:
    """Processes whose command line names the data directory (the postmaster)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(pgdata).encode() in cmdline and running(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_dead_processes_are_dropped_from_the_handle_list(tmp_path: Path) -> None:
    handles = tmp_path / HANDLES_FILE
    handles.write_text(json.dumps([dead_pid(), os.getpid(), "junk", 0]))

    forget_dead_handles(tmp_path)

    assert json.loads(handles.read_text()) == [os.getpid()]


def test_an_unreadable_handle_list_is_reset(tmp_path: Path) -> None:
    handles = tmp_path / HANDLES_FILE
    handles.write_text("[12, ")

    forget_dead_handles(tmp_path)

    assert json.loads(handles.read_text()) == []


def test_a_missing_handle_list_stays_missing(tmp_path: Path) -> None:
    forget_dead_handles(tmp_path)

    assert list(tmp_path.iterdir()) == []


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    output: Path
    seconds: float

    @property
    def text(self) -> str:
        return self.output.read_text()

    @property
    def tokens(self) -> list[str]:
        return TOKEN.findall(self.text)


class EmbeddedServer:
    """`python server.py --port P` with no DATABASE_URL and its data under `home`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.pgdata = home / "data" / "inbox-contacts-api" / "pgdata"
        self.env = {
            name: value
            for name, value in os.environ.items()
            if name
            not in {"DATABASE_URL", "TEST_DATABASE_URL", "APP_DATABASE_URL", "INBOX_APP_PASSWORD"}
        }
        self.env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
        self.runs = 0

    @property
    def graphql(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self) -> Started:
        self.runs += 1
        output = self.home / f"run{self.runs}.log"
        began = time.monotonic()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, str(SERVER), "--port", str(self.port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.home,
            )
        while time.monotonic() - began < STARTUP_SECONDS:
            assert process.poll() is None, output.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return Started(process, output, time.monotonic() - began)
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        process.kill()
        raise AssertionError(f"no answer in {STARTUP_SECONDS}s:\n{output.read_text()}")

    def viewer(self, token: str) -> httpx.Response:
        return httpx.post(self.graphql, json=VIEWER, headers={"Authorization": f"Bearer {token}"})

    def counts(self) -> tuple[int, int]:
        """(organisations, contacts) in the embedded database, read past the server."""
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        url = f"postgresql://postgres@/inbox?host={lines[4]}&port={lines[3]}"

        async def read() -> tuple[int, int]:
            conn = await asyncpg.connect(url)
            try:
                row = await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM organizations WHERE name = 'Demo'),"
                    " (SELECT count(*) FROM contacts)"
                )
            finally:
                await conn.close()
            assert row is not None
            return row[0], row[1]

        # In a thread of its own: asyncio.run would unset this thread's event loop, which
        # the asynchronous tests of the session share.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, read()).result()

    def stop(self, started: Started) -> None:
        """SIGTERM; the process must exit 0 and take PostgreSQL down with it."""
        assert postgres_pids(self.pgdata) != []
        started.process.send_signal(signal.SIGTERM)
        assert started.process.wait(timeout=60) == 0, started.text
        assert postgres_pids(self.pgdata) == []
        assert not (self.pgdata / "postmaster.pid").exists()
        assert json.loads((self.pgdata / HANDLES_FILE).read_text()) == []


@pytest.fixture
def embedded_server() -> Iterator[EmbeddedServer]:
    # Not under pytest's basetemp: that directory is kept private (0700) by every pytest
    # run, and PostgreSQL, run as another user when the tests run as root, must be able
    # to reach its data directory.
    home = Path(tempfile.mkdtemp(prefix="inbox-embedded-"))
    embedded = EmbeddedServer(home)
    try:
        yield embedded
    finally:
        # A failed test must not leave a server behind.
        for pid in postgres_pids(embedded.pgdata):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while postgres_pids(embedded.pgdata) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_the_server_runs_on_an_embedded_postgresql_and_keeps_its_data(
    embedded_server: EmbeddedServer,
) -> None:
    first = embedded_server.start()
    try:
        assert "Applied migrations: 0001_schema.sql, 0002_security.sql" in first.text
        assert f"GraphQL: {embedded_server.graphql}" in first.text
        assert len(first.tokens) == 2
        reply = embedded_server.viewer(first.tokens[0])
        assert reply.json()["data"] == {"viewer": {"name": "Alex Admin", "role": "ADMIN"}}
        assert embedded_server.counts() == (1, 50)
    finally:
        embedded_server.stop(first)

    # As if a process using the server had crashed without letting go of it.
    (embedded_server.pgdata / HANDLES_FILE).write_text(json.dumps([dead_pid()]))

    second = embedded_server.start()
    try:
        assert "Applied migrations" not in second.text
        assert len(second.tokens) == 2
        assert set(second.tokens).isdisjoint(first.tokens)
        for token in (second.tokens[1], first.tokens[1]):
            reply = embedded_server.viewer(token)
            assert reply.json()["data"] == {"viewer": {"name": "Sam Agent", "role": "AGENT"}}
        assert embedded_server.counts() == (1, 50)
    finally:
        embedded_server.stop(second)

    print(f"start-up: fresh {first.seconds:.2f}s, existing data {second.seconds:.2f}s")
