"""`serve --workers N`: each worker listens on a socket of its own (server.WorkerListener)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import httpx
import pytest

import server
from tests.test_cli import SERVER, free_port


@pytest.fixture
def listener() -> Iterator[server.WorkerListener]:
    sock = server.WorkerListener.bind_to("127.0.0.1", 0)
    try:
        yield sock
    finally:
        sock.close()


def worker_socket(listener: server.WorkerListener) -> socket.socket:
    """The socket a worker gets for `listener`, through the pickling uvicorn uses."""
    rebuilt = ForkingPickler.loads(ForkingPickler.dumps(listener))
    assert isinstance(rebuilt, socket.socket)
    return rebuilt


def test_a_worker_gets_a_new_socket_on_the_listeners_address(
    listener: server.WorkerListener,
) -> None:
    with worker_socket(listener) as worker:
        assert worker.fileno() != listener.fileno()
        assert worker.getsockname() == listener.getsockname()
        assert worker.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert type(worker) is socket.socket  # a plain socket, for uvicorn to listen on


def test_connections_are_spread_over_the_workers_sockets(
    listener: server.WorkerListener,
) -> None:
    workers = [worker_socket(listener), worker_socket(listener)]
    clients: list[socket.socket] = []
    try:
        for worker in workers:
            worker.listen(128)
            worker.setblocking(False)
        for _ in range(64):
            clients.append(socket.create_connection(listener.getsockname()))
        accepted = [0, 0]
        while sum(accepted) < len(clients):
            for index, worker in enumerate(workers):
                try:
                    worker.accept()[0].close()
                except BlockingIOError:
                    continue
                accepted[index] += 1
        # By a hash of each connection's ports: all 64 on one socket has odds of 2**-63.
        assert min(accepted) > 0
        # The parent's socket listens on nothing: it takes no connection.
        with pytest.raises(OSError, match="Invalid argument"):
            listener.accept()
    finally:
        for sock in clients + workers:
            sock.close()


def test_a_taken_address_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(server.CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.WorkerListener.bind_to("127.0.0.1", port)


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:port (state 0A in /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == wanted and line.split()[3] == "0A")


async def test_serve_with_two_workers_listens_twice_and_answers(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database, "LOG_LEVEL": "warning"}
    # Output to a file, not a pipe, and a session of its own: a worker that outlives a
    # failed test must neither hold the test up nor outlive the test.
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVER),
            "serve",
            "--no-demo",
            "--port",
            str(port),
            "--workers",
            "2",
            stdout=output,
            stderr=output,
            env=environment,
            cwd=SERVER.parent,
            start_new_session=True,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):  # the workers start in a few seconds
                if listening_sockets(port) == 2:
                    break
                await asyncio.sleep(0.1)
            assert listening_sockets(port) == 2, log.read_text()
            for _ in range(4):
                assert (await http.get("/healthz")).json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        assert process.returncode == 0, log.read_text()
        assert listening_sockets(port) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
