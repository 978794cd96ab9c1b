"""`serve --workers N`: N server processes, and every connection handed to one of them in
turn.

The parent process accepts the connections and passes each (its file descriptor, over a
Unix socket) to the next worker that is ready, round robin, as Node's cluster module does.
The kernel's own ways of spreading connections over processes even out over many
connections, not over a few long-lived ones, such as a proxy's or a load generator's pool:
- one socket shared by every worker (uvicorn's way): the worker that wakes first accepts
  every connection waiting, and keeps those that are kept alive. Ten connections opened
  together all went to one of two workers, which did all the work on one core (queue pages
  at concurrency 10: 380 to 420 requests per second, against 520 to 610 when spread);
- a socket per worker with SO_REUSEPORT: connections go by a hash of their ports, which
  split ten connections 5/5 in a quarter of the starts and 7/3 or worse in a third. The
  worker with more answered more slowly: a queue page's p99 was 25 ms at 5/5 and 30 to 38
  ms at 6/4 or worse, same load, same throughput.

Handing a connection out costs the parent an accept and a send, once per connection, not
per request.

The parent (Supervisor) starts the workers, starts another when one dies or hangs (it
kills one whose event loop has stopped turning), and stops them all on SIGINT or SIGTERM.
A worker (Worker, a uvicorn Server) reaches the parent through a Unix socket in a
directory only the server's user may enter, says when it is ready, and serves the
connections it is given until it is told to stop or the parent goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("inbox")

# What a worker sends the parent once it serves: connections may be handed to it.
READY = b"R"
# What a serving worker sends the parent once a second, from its event loop.
ALIVE = b"A"
# How long the dispatcher passes over a worker it has not heard from, in seconds: one
# busy with a long request, or hung, is given nothing more until it is heard again (or,
# if no worker has been heard from lately, until it is the last one left).
QUIET_AFTER = 3.0
# What comes with each handed-out connection (a message carries at least one byte).
CONNECTION = b"C"
# Connections a worker takes from its channel before it lets the event loop run on.
_TAKEN_AT_ONCE = 64
# How long the parent lets stopping workers finish the requests they have, in seconds.
STOP_TIMEOUT = 30.0
# How long a serving worker's event loop may go without a turn before the parent takes it
# for hung and kills it, in seconds (it notes the time once a second; see Worker.on_tick).
HEALTH_TIMEOUT = 10.0

# What a worker process runs: given uvicorn's options, the dispatcher's address and where
# to note that its event loop turns (a time of time.monotonic(), shared with the parent).
Target = Callable[[dict[str, Any], str, "Synchronized[float]"], None]


class Dispatcher:
    """The parent's side: accepts on `listener` and hands each connection to the next
    ready worker, in a thread of its own. Workers connect to `address` (a Unix socket in
    a private directory) and send READY once they serve; a worker whose channel closes
    (it stopped, or died) gets no more.

    Connections wait in the listener's backlog while no worker is ready, and, as the
    server starts, until `starting` workers are (or for `start_timeout` seconds, after
    which those that are take them): connections opened as soon as the port answers
    would otherwise all go to the worker that was ready first, and stay with it."""

    def __init__(
        self, listener: socket.socket, *, starting: int = 1, start_timeout: float = 60.0
    ) -> None:
        self.listener = listener
        self._starting = starting
        self._start_timeout = start_timeout
        listener.setblocking(False)
        self._directory = Path(tempfile.mkdtemp(prefix="inbox-workers-"))  # mode 0700
        self.address = str(self._directory / "workers.sock")
        self._registry = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._registry.bind(self.address)
        self._registry.listen()
        self._registry.setblocking(False)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._ready: list[socket.socket] = []  # channels of ready workers, in turn order
        self._heard_at: dict[socket.socket, float] = {}  # when each worker last said anything
        self._turn = 0
        self._accepting = False
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self.handed_out = 0  # connections handed to workers so far

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting and handing out: closes the listener (connections waiting in
        its backlog are refused). The workers' channels stay open until close()."""
        if self._thread.is_alive():
            self._wake_writer.send(b"x")
            self._thread.join()
        self.listener.close()
        self._registry.close()

    def close(self) -> None:
        """Stops, and closes every channel: a worker still running takes it as its cue
        to stop."""
        self.stop()
        channels = [key.data for key in self._selector.get_map().values()]
        self._selector.close()
        for sock in (*channels, self._wake_reader, self._wake_writer):
            sock.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _run(self) -> None:
        try:
            self._dispatch()
        except Exception:
            # Connections would then wait unanswered: the supervisor stops the server.
            logger.exception("the dispatcher failed; no connection will be handed out")

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _dispatch(self) -> None:
        selector = self._selector
        selector.register(self._wake_reader, selectors.EVENT_READ, self._wake_reader)
        selector.register(self._registry, selectors.EVENT_READ, self._registry)
        deadline = time.monotonic() + self._start_timeout
        while True:
            if self._starting and time.monotonic() >= deadline:
                self._starting = 0
                self._accept(bool(self._ready))
            timeout = max(0.0, deadline - time.monotonic()) if self._starting else None
            for key, _ in selector.select(timeout):
                sock = key.data
                if sock.fileno() == -1:  # a channel forgotten earlier in this batch
                    continue
                if sock is self._wake_reader:
                    return
                if sock is self._registry:
                    self._register()
                elif sock is self.listener:
                    self._hand_out()
                else:
                    self._heard(sock)

    def _register(self) -> None:
        try:
            channel, _ = self._registry.accept()
        except BlockingIOError:
            return
        except OSError as error:  # out of descriptors, say: the worker waits
            logger.warning("accepting a worker failed: %s", error)
            time.sleep(0.1)
            return
        channel.setblocking(False)
        self._selector.register(channel, selectors.EVENT_READ, channel)

    def _heard(self, channel: socket.socket) -> None:
        try:
            said = channel.recv(64)
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if not said:  # the worker stopped or died
            self._forget(channel)
            return
        self._heard_at[channel] = time.monotonic()
        if READY in said and channel not in self._ready:
            self._ready.append(channel)
            if len(self._ready) >= self._starting:
                self._starting = 0
                self._accept(True)

    def _forget(self, channel: socket.socket) -> None:
        if channel.fileno() == -1:  # forgotten already
            return
        self._selector.unregister(channel)
        if channel in self._ready:
            self._ready.remove(channel)
        self._heard_at.pop(channel, None)
        channel.close()
        if not self._ready:
            self._accept(False)

    def _accept(self, accepting: bool) -> None:
        """Watches the listener only while some worker is ready to take a connection."""
        if accepting != self._accepting:
            if accepting:
                self._selector.register(self.listener, selectors.EVENT_READ, self.listener)
            else:
                self._selector.unregister(self.listener)
            self._accepting = accepting

    def _hand_out(self) -> None:
        while self._ready:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of descriptors, say: the connection waits
                logger.warning("accepting a connection failed: %s", error)
                time.sleep(0.1)  # rather than try again at once, as long as it lasts
                return
            with connection:
                self._give(connection)

    def _give(self, connection: socket.socket) -> None:
        # Each ready worker in turn, but those not heard from lately while others were;
        # one that cannot take it now (its channel is full) is passed over, one that is
        # gone is forgotten. A connection no worker can take is closed.
        now = time.monotonic()
        heard = [c for c in self._ready if now - self._heard_at.get(c, now) <= QUIET_AFTER]
        candidates = heard or list(self._ready)
        gone = []
        given = False
        for _ in range(len(candidates)):
            self._turn = (self._turn + 1) % len(candidates)
            channel = candidates[self._turn]
            try:
                socket.send_fds(channel, [CONNECTION], [connection.fileno()])
            except (BrokenPipeError, ConnectionResetError):
                gone.append(channel)
                continue
            except OSError as error:  # full (EAGAIN), or short of memory: passed over
                if not isinstance(error, BlockingIOError):
                    logger.warning("handing a connection to a worker failed: %s", error)
                continue
            self.handed_out += 1
            given = True
            break
        if not given:
            logger.warning("no worker could take a connection; it is closed")
        for channel in gone:
            self._forget(channel)


class Worker(uvicorn.Server):
    """A worker's server: serves the connections the parent hands it over `channel`."""

    def __init__(
        self, config: uvicorn.Config, channel: socket.socket, alive: Synchronized[float]
    ) -> None:
        super().__init__(config)
        self._channel = channel
        self._alive = alive
        self._connecting: set[asyncio.Task[None]] = set()  # kept until done (see _take)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's lifespan; no listening socket
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        config = self.config
        # What uvicorn makes a connection's protocol with (see uvicorn.Server.startup; the
        # class is typed as asyncio.Protocol's, uvicorn's protocols take these arguments).
        protocol = functools.partial(
            config.http_protocol_class,
            config=config,
            server_state=self.server_state,  # type: ignore[call-arg]
            app_state=self.lifespan.state,
        )
        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), self._take, loop, protocol)
        self._channel.sendall(READY)

    def _take(self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], Any]) -> None:
        # One connection per message; those waiting are taken together, up to a bound.
        for _ in range(_TAKEN_AT_ONCE):
            try:
                said, fds, _, _ = socket.recv_fds(self._channel, 1, 1)
            except BlockingIOError:
                return
            except OSError:
                said, fds = b"", []
            for fd in fds:
                # The loop keeps only a weak reference to a task.
                task = loop.create_task(self._connect(loop, protocol, socket.socket(fileno=fd)))
                self._connecting.add(task)
                task.add_done_callback(self._connecting.discard)
            if not said:  # the parent is gone: no more connections will come
                loop.remove_reader(self._channel.fileno())
                self.should_exit = True
                return

    @staticmethod
    async def _connect(
        loop: asyncio.AbstractEventLoop, protocol: Callable[[], Any], connection: socket.socket
    ) -> None:
        try:
            await loop.connect_accepted_socket(protocol, sock=connection)
        except OSError:  # the client went away meanwhile
            connection.close()

    async def on_tick(self, counter: int) -> bool:
        # uvicorn's main loop calls this every tenth of a second: once a second, the
        # parent learns that the event loop still turns (the supervisor through `alive`,
        # the dispatcher through the channel).
        if counter % 10 == 0:
            self._alive.value = time.monotonic()
            with contextlib.suppress(OSError):  # a full channel: the parent is busy
                self._channel.send(ALIVE)
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stopping, the worker no longer notes that its event loop turns: the supervisor
        # must not take it for hung while it finishes its requests.
        self._alive.value = 0.0
        # The parent hands out nothing more once the channel closes.
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
        self._channel.close()
        await super().shutdown(sockets=[])


def work(options: dict[str, Any], address: str, alive: Synchronized[float]) -> None:
    """A worker process: the app (`server:create_app`) served with uvicorn's `options`, on
    the connections of the dispatcher at `address` (see Target)."""
    config = uvicorn.Config("server:create_app", factory=True, **options)
    config.configure_logging()
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.connect(address)
    Worker(config, channel, alive).run()


class Supervisor:
    """The parent of `serve --workers N`: starts `count` workers, and another for each
    that dies (but for one that fails to start, as every other would: then it stops) or
    hangs (its event loop has not turned for `health_timeout` seconds: it is killed), and
    stops them all on SIGINT or SIGTERM, letting them finish what they are doing."""

    def __init__(
        self,
        listener: socket.socket,
        count: int,
        options: dict[str, Any],
        *,
        target: Target = work,
        health_timeout: float = HEALTH_TIMEOUT,
    ) -> None:
        self.dispatcher = Dispatcher(listener, starting=count)
        self.count = count
        self.options = options
        self.target = target
        self.health_timeout = health_timeout
        self.processes: list[BaseProcess] = []
        # When each worker's event loop last turned (0: not serving yet), by index.
        self._alive: list[Synchronized[float]] = []
        self.stopping = threading.Event()
        self.failed = False  # a worker failed to start, or the dispatcher failed

    def _start(self) -> tuple[BaseProcess, Synchronized[float]]:
        spawn = multiprocessing.get_context("spawn")
        alive = spawn.Value(ctypes.c_double, 0.0)
        process = spawn.Process(
            target=self.target, args=(self.options, self.dispatcher.address, alive)
        )
        process.start()
        return process, alive

    def run(self) -> None:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.dispatcher.start()
        try:
            for _ in range(self.count):
                process, alive = self._start()
                self.processes.append(process)
                self._alive.append(alive)
            logger.info(
                "started %d workers: %s", self.count, ", ".join(str(p.pid) for p in self.processes)
            )
            while not self.stopping.wait(0.5):
                if not self.dispatcher.is_alive():
                    self.failed = True
                    break
                self._kill_hung()
                self._replace_dead()
        finally:
            self.dispatcher.stop()
            self._stop_all()
            self.dispatcher.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        logger.info("received %s, stopping the workers", signal.Signals(signum).name)
        self.stopping.set()

    def _kill_hung(self) -> None:
        now = time.monotonic()
        for process, alive in zip(self.processes, self._alive, strict=True):
            since = alive.value
            if since and now - since > self.health_timeout and process.is_alive():
                logger.error(
                    "worker %s has not turned its event loop for %.0f s; killing it",
                    process.pid,
                    now - since,
                )
                process.kill()
                process.join()

    def _replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.stopping.is_set():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker %s failed to start; stopping", process.pid)
                self.failed = True
                self.stopping.set()
                return
            replacement, alive = self._start()
            logger.warning(
                "worker %s died (exit code %s); started %s",
                process.pid,
                process.exitcode,
                replacement.pid,
            )
            self.processes[index] = replacement
            self._alive[index] = alive

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error(
                    "worker %s did not stop in %.0f s; killing it", process.pid, STOP_TIMEOUT
                )
                process.kill()
                process.join()
