"""`serve --workers N` (workers.py): connections handed to the ready workers in turn, a
worker that dies replaced, all of them stopped on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import pytest
from uvicorn.config import STARTUP_FAILURE

import server
import workers
from tests.test_cli import SERVER, free_port


@pytest.fixture
def dispatcher() -> Iterator[workers.Dispatcher]:
    found = workers.Dispatcher(server.listen("127.0.0.1", 0))
    found.start()
    try:
        yield found
    finally:
        found.close()


def fake_worker(dispatcher: workers.Dispatcher, *, ready: bool = True) -> socket.socket:
    """A worker's channel to the dispatcher, as workers.Worker opens it."""
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.connect(dispatcher.address)
    if ready:
        channel.sendall(workers.READY)
    return channel


def taken(channel: socket.socket, timeout: float = 10.0) -> socket.socket | None:
    """The next connection handed to the worker of `channel`, or None if none comes."""
    if not select.select([channel], [], [], timeout)[0]:
        return None
    said, fds, _, _ = socket.recv_fds(channel, 1, 1)
    assert said == workers.CONNECTION
    assert len(fds) == 1
    return socket.socket(fileno=fds[0])


def connect(dispatcher: workers.Dispatcher) -> socket.socket:
    return socket.create_connection(dispatcher.listener.getsockname())


def test_connections_go_to_the_ready_workers_in_turn(dispatcher: workers.Dispatcher) -> None:
    channels = [fake_worker(dispatcher), fake_worker(dispatcher)]
    clients: list[socket.socket] = []
    received: list[list[socket.socket]] = [[], []]
    try:
        for _ in range(10):
            clients.append(connect(dispatcher))
            # Handed out as they come: each goes to the worker whose turn it is.
            arrived = [taken(channel, timeout=0.5) for channel in channels]
            assert sum(1 for connection in arrived if connection is not None) == 1
            for index, connection in enumerate(arrived):
                if connection is not None:
                    received[index].append(connection)
        assert [len(connections) for connections in received] == [5, 5]
        # Each is the client's connection itself: what a client sends, its worker reads.
        by_peer = {c.getpeername(): c for connections in received for c in connections}
        for client in clients:
            client.sendall(b"ping")
            assert by_peer[client.getsockname()].recv(4) == b"ping"
        assert dispatcher.handed_out == 10
    finally:
        for sock in [*clients, *channels, *(c for r in received for c in r)]:
            sock.close()


def test_connections_wait_until_a_worker_is_ready(dispatcher: workers.Dispatcher) -> None:
    channel = fake_worker(dispatcher, ready=False)
    with channel, connect(dispatcher) as client:
        assert taken(channel, timeout=0.3) is None
        channel.sendall(workers.READY)
        connection = taken(channel)
        assert connection is not None
        with connection:
            assert connection.getpeername() == client.getsockname()


def test_a_worker_that_is_gone_gets_no_more_connections(dispatcher: workers.Dispatcher) -> None:
    gone, staying = fake_worker(dispatcher), fake_worker(dispatcher)
    clients = [connect(dispatcher) for _ in range(2)]
    received = [taken(gone), taken(staying)]  # one each
    gone.close()
    try:
        clients.extend(connect(dispatcher) for _ in range(4))
        received.extend(taken(staying) for _ in range(4))
        assert all(connection is not None for connection in received)
        assert len(dispatcher._ready) == 1
        assert dispatcher.is_alive()
    finally:
        for sock in [*clients, staying, *(c for c in received if c is not None)]:
            sock.close()


def test_a_worker_found_gone_while_handing_out_is_forgotten_once() -> None:
    # The dispatcher's steps by hand (its thread not started): one select can report
    # both a connection, whose turn falls to a worker that is gone (its send fails), and
    # that worker's channel ending, forgotten by then.
    dispatcher = workers.Dispatcher(server.listen("127.0.0.1", 0))
    gone, staying = fake_worker(dispatcher), fake_worker(dispatcher)
    clients: list[socket.socket] = []
    arrived: list[socket.socket | None] = []
    try:
        dispatcher._register()
        dispatcher._register()
        channels = list(dispatcher._selector.get_map().values())
        for key in channels:
            dispatcher._heard(key.data)  # READY
        assert len(dispatcher._ready) == 2
        gone.close()
        clients = [connect(dispatcher) for _ in range(4)]
        dispatcher._hand_out()
        for key in channels:
            dispatcher._heard(key.data)  # the end of the one that is gone, again
        arrived = [taken(staying, timeout=1) for _ in range(4)]
        assert all(connection is not None for connection in arrived)
        assert dispatcher.handed_out == 4
        assert len(dispatcher._ready) == 1
    finally:
        for sock in [*clients, staying, *(c for c in arrived if c is not None)]:
            sock.close()
        dispatcher.close()


def test_a_worker_not_heard_from_lately_is_passed_over(dispatcher: workers.Dispatcher) -> None:
    quiet, heard = fake_worker(dispatcher), fake_worker(dispatcher)
    clients = [connect(dispatcher) for _ in range(2)]
    received = [taken(quiet), taken(heard)]  # both in service
    try:
        # Both last heard long ago; then one says it is alive.
        for channel in list(dispatcher._heard_at):
            dispatcher._heard_at[channel] -= 2 * workers.QUIET_AFTER
        heard.sendall(workers.ALIVE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            time.monotonic() - at < workers.QUIET_AFTER for at in dispatcher._heard_at.values()
        ):
            time.sleep(0.01)
        clients.extend(connect(dispatcher) for _ in range(4))
        received.extend(taken(heard) for _ in range(4))
        assert all(connection is not None for connection in received)
        assert taken(quiet, timeout=0.2) is None
    finally:
        for sock in [*clients, quiet, heard, *(c for c in received if c is not None)]:
            sock.close()


def test_stopping_closes_the_listener_and_closing_tells_the_workers() -> None:
    dispatcher = workers.Dispatcher(server.listen("127.0.0.1", 0))
    dispatcher.start()
    address = dispatcher.listener.getsockname()
    channel = fake_worker(dispatcher)
    with connect(dispatcher):
        connection = taken(channel)  # the worker is in service
        assert connection is not None
        connection.close()
    dispatcher.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address).close()
    assert not select.select([channel], [], [], 0.2)[0]  # still open
    dispatcher.close()
    with channel:
        assert select.select([channel], [], [], 10)[0]
        # The worker's cue to stop: the end of its channel, or a reset if the dispatcher
        # had not read what the worker said last.
        with contextlib.suppress(ConnectionResetError):
            assert channel.recv(1) == b""
    assert not Path(dispatcher.address).parent.exists()


def test_a_taken_address_is_a_clear_error() -> None:
    with socket.socket() as taken_already:
        taken_already.bind(("127.0.0.1", 0))
        taken_already.listen()
        port = taken_already.getsockname()[1]
        with pytest.raises(server.CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.listen("127.0.0.1", port)


# --- the supervisor, with workers that only say they are ready --------------------------


def _ready_worker(options: dict[str, Any], address: str, alive: Synchronized[float]) -> None:
    """A worker process that says it is ready, then waits until the parent goes away. The
    first time, where `options` name a file that is not there yet, it writes its pid
    there, and fails (`fail_once`) or hangs (`hang_once`)."""
    for how in ("fail_once", "hang_once"):
        once = options.get(how)
        if once is not None and not Path(once).exists():
            Path(once).write_text(str(os.getpid()))
            if how == "fail_once":
                sys.exit(1)
            alive.value = time.monotonic()  # it served, once
            time.sleep(120)
            sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.connect(address)
        channel.sendall(workers.READY)
        with contextlib.suppress(ConnectionResetError):
            while channel.recv(16):
                pass


def _failing_worker(options: dict[str, Any], address: str, alive: Synchronized[float]) -> None:
    sys.exit(STARTUP_FAILURE)


def _run_until_ready(supervisor: workers.Supervisor, count: int) -> bool:
    """Runs the supervisor until `count` workers are ready; whether they were."""
    ready = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(supervisor.dispatcher._ready) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(supervisor.dispatcher._ready) >= count:
            ready.set()
        supervisor.stopping.set()

    threading.Thread(target=watch, daemon=True).start()
    supervisor.run()
    return ready.is_set()


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    failed = tmp_path / "failed"
    supervisor = workers.Supervisor(
        server.listen("127.0.0.1", 0), 2, {"fail_once": str(failed)}, target=_ready_worker
    )

    assert _run_until_ready(supervisor, 2)  # the one that failed was replaced

    assert int(failed.read_text()) not in [process.pid for process in supervisor.processes]
    assert not supervisor.failed
    assert [process.exitcode for process in supervisor.processes] == [0, 0]


def test_a_worker_whose_event_loop_stops_turning_is_killed_and_replaced(tmp_path: Path) -> None:
    hung = tmp_path / "hung"
    supervisor = workers.Supervisor(
        server.listen("127.0.0.1", 0),
        1,
        {"hang_once": str(hung)},
        target=_ready_worker,
        health_timeout=0.5,
    )

    assert _run_until_ready(supervisor, 1)

    pid = int(hung.read_text())
    assert pid != supervisor.processes[0].pid
    assert not Path(f"/proc/{pid}").exists()  # killed, and reaped
    assert supervisor.processes[0].exitcode == 0


def test_the_server_stops_when_the_dispatcher_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: workers.Dispatcher) -> None:
        raise RuntimeError("dispatcher bug")

    monkeypatch.setattr(workers.Dispatcher, "_hand_out", fail)
    supervisor = workers.Supervisor(server.listen("127.0.0.1", 0), 1, {}, target=_ready_worker)
    address = supervisor.dispatcher.listener.getsockname()

    def client() -> None:
        deadline = time.monotonic() + 60
        while not supervisor.dispatcher._ready and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(address):  # sets the dispatcher off
            supervisor.stopping.wait(60)  # else: stopped by the test, which then fails
        supervisor.stopping.set()

    threading.Thread(target=client, daemon=True).start()
    supervisor.run()

    assert supervisor.failed
    assert not supervisor.dispatcher.is_alive()
    assert all(not process.is_alive() for process in supervisor.processes)


def test_a_worker_that_fails_to_start_stops_the_server() -> None:
    supervisor = workers.Supervisor(server.listen("127.0.0.1", 0), 2, {}, target=_failing_worker)
    assert not _run_until_ready(supervisor, 1)  # it stops of itself
    assert supervisor.failed
    assert all(not process.is_alive() for process in supervisor.processes)


# --- serve --workers 2 --------------------------------------------------------------------


def _workers(pid: int) -> list[int]:
    """The worker processes of the server `pid` (its children, but multiprocessing's
    resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _served_on(port: int) -> dict[str, str]:
    """The inodes of established connections to 127.0.0.1:port (/proc/net/tcp), by the
    client's port."""
    wanted = f"0100007F:{port:04X}"
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "01":
            found[fields[2]] = fields[9]
    return found


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:] if line)
    length = int(headers[b"content-length"])
    return await reader.readexactly(length)


async def test_serve_with_two_workers_spreads_ten_connections_five_and_five(
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
    streams = []
    try:
        for _ in range(300):  # the workers start in a few seconds
            with contextlib.suppress(OSError):
                streams.append(await asyncio.open_connection("127.0.0.1", port))
                break
            await asyncio.sleep(0.1)
        assert streams, log.read_text()
        streams.extend([await asyncio.open_connection("127.0.0.1", port) for _ in range(9)])
        for reader, writer in streams:  # kept alive: each stays with its worker
            assert await asyncio.wait_for(_get(reader, writer), 30) == b'{"status":"ok"}'

        children = _workers(process.pid)
        assert len(children) == 2, children
        connections = _served_on(port)
        assert len(connections) == 10
        per_worker = sorted(
            len(_socket_inodes(child) & set(connections.values())) for child in children
        )
        assert per_worker == [5, 5]

        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        assert process.returncode == 0, log.read_text()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    finally:
        for _, writer in streams:
            writer.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
