"""Measurements: a wrk run, the SQL statements PostgreSQL counted, the plans auto_explain
logged, and a py-spy profile."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

WRK_TEMPLATE = Path(__file__).resolve().parent / "wrk.lua"


@dataclass(frozen=True, slots=True)
class Load:
    """One wrk run's figures."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_sample: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(url: str, script: str, *, connections: int, threads: int, seconds: float) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                path,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(path).unlink()
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH "))
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return Load(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=raw["bad_status"] + raw["bad_body"] + socket_errors,
        error_sample=raw["sample"],
    )


# --- pg_stat_statements ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    query: str
    calls: int
    mean_ms: float


async def reset_statements(admin: asyncpg.Connection) -> None:
    await admin.execute("SELECT pg_stat_statements_reset()")


async def statements(admin: asyncpg.Connection, database: str, role: str) -> list[Statement]:
    """What `role` ran in `database` since the last reset, most called first."""
    rows = await admin.fetch(
        "SELECT query, calls, mean_exec_time FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)"
        "   AND userid = (SELECT oid FROM pg_roles WHERE rolname = $2)"
        " ORDER BY calls DESC, query",
        database,
        role,
    )
    return [Statement(r["query"], r["calls"], r["mean_exec_time"]) for r in rows]


async def wait_idle(admin: asyncpg.Connection, database: str, role: str) -> None:
    """Waits until `role` has had no statement running in `database` for half a second
    (at most a minute)."""
    deadline = time.monotonic() + 60
    quiet = 0
    while quiet < 5 and time.monotonic() < deadline:
        busy = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = $1 AND usename = $2 AND state <> 'idle'",
            database,
            role,
        )
        quiet = 0 if busy else quiet + 1
        await asyncio.sleep(0.1)


# --- auto_explain ------------------------------------------------------------------------


async def set_auto_explain(admin: asyncpg.Connection, *, on: bool) -> None:
    if on:
        await admin.execute("ALTER SYSTEM SET auto_explain.log_min_duration = 0")
    else:
        await admin.execute("ALTER SYSTEM RESET auto_explain.log_min_duration")
    await admin.execute("SELECT pg_reload_conf()")
    await asyncio.sleep(0.5)


def logged_plans(log: Path, offset: int, *, database: str, role: str) -> list[str]:
    """The plans auto_explain logged for `role` in `database` after byte `offset`, last
    one per distinct query text, in first-seen order."""
    time.sleep(1.0)  # the logging collector writes asynchronously
    plans: dict[str, str] = {}
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            message = entry.get("message", "")
            if entry.get("dbname") != database or entry.get("user") != role:
                continue
            if "Query Text:" not in message:
                continue
            text = message.split("Query Text:", 1)[1].split("\n", 1)[0].strip()
            plans[text] = message
    return list(plans.values())


# --- py-spy --------------------------------------------------------------------------------


def start_profile(pid: int, seconds: int, output: Path) -> subprocess.Popen[str] | None:
    """Starts py-spy sampling `pid` and its subprocesses for `seconds` into `output`
    (collapsed stacks); None without py-spy."""
    spy = shutil.which("py-spy") or _venv_tool("py-spy")
    if spy is None:
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _venv_tool(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


# Top-level packages of this project, as py-spy names files (relative to sys.path).
_APP_PACKAGES = frozenset({"db", "resolvers", "schema", "server"})
_WORKER = "multiprocessing.spawn import spawn_main"


def summarise_profile(collapsed: Path, *, top: int = 25) -> dict[str, Any]:
    """Where the sampled CPU time of the server's workers went: by package (self and
    inclusive) and by function (self and inclusive), as shares of all samples."""
    lines = collapsed.read_text(errors="replace").splitlines()
    # With several workers, uvicorn's supervisor and multiprocessing's helpers are
    # sampled too; only the workers serve requests.
    if any(_WORKER in line for line in lines):
        lines = [line for line in lines if _WORKER in line]
    # Background threads (uvicorn's supervisor pipe reader) block in calls py-spy does not
    # always recognise as idle; requests are served on the event loop's thread.
    lines = [line for line in lines if "Thread._bootstrap " not in line]
    phases: Counter[str] = Counter()
    self_by_package: Counter[str] = Counter()
    inclusive_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive_by_function: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for text in stack.split(";") if (frame := _frame(text))]
        if not frames:
            continue
        total += count
        package, function = frames[-1]
        if package == "<string>":
            # Generated code (dataclass methods, compiled lambdas): named by its caller.
            caller = next((f for p, f in reversed(frames) if p != "<string>"), "?")
            function = f"{function} in {caller}"
        phases[_phase(frames)] += count
        self_by_package[package] += count
        self_by_function[function] += count
        for seen in {p for p, _ in frames}:
            inclusive_by_package[seen] += count
        for seen in {f for _, f in frames}:
            inclusive_by_function[seen] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(top)]

    return {
        "samples": total,
        "phases": shares(phases),
        "self_by_package": shares(self_by_package),
        "inclusive_by_package": shares(inclusive_by_package),
        "self_by_function": shares(self_by_function),
        "inclusive_by_function": shares(inclusive_by_function),
    }


def _phase(frames: list[tuple[str, str]]) -> str:
    """What a sample was doing: parsing or validating a document if either is anywhere on
    the stack, otherwise what the frame on top belongs to."""
    functions = [function for _, function in frames]
    if any("graphql/language/parser.py" in f for f in functions):
        return "GraphQL parsing"
    if any("graphql/validation/" in f for f in functions):
        return "GraphQL validation"
    package, function = frames[-1]
    if function.startswith("Runner.run (asyncio/"):
        return "event loop: uvloop's C code, waiting for I/O included (py-spy cannot tell)"
    if package == "asyncpg":
        return "asyncpg (database driver)"
    if package in ("stdlib: json", "orjson"):
        return "JSON encoding"
    if package == "aiodataloader":
        return "dataloaders (aiodataloader)"
    if package.startswith("app: "):
        return f"our code ({package.removeprefix('app: ')}/)"
    if package in ("graphql", "strawberry", "<string>"):
        return "GraphQL execution (graphql-core, Strawberry, generated code)"
    if package in ("starlette", "uvicorn", "httptools", "cross_web"):
        return "HTTP (uvicorn, Starlette)"
    if package.startswith(("stdlib: ", "<frozen")):
        return "other: Python's standard library"
    return f"other: {package}"


def _frame(text: str) -> tuple[str, str] | None:
    """(package, function) of a py-spy frame such as `execute (graphql/execution/
    executor.py:12)`; None for anything else (process labels)."""
    match = _FRAME.match(text.strip())
    if match is None:
        return None
    file = match["file"]
    top = file.split("/", 1)[0].removesuffix(".py")
    if top in _APP_PACKAGES:
        package = f"app: {top}"
    elif top in sys.stdlib_module_names:
        package = f"stdlib: {top}"
    else:
        package = top
    return package, f"{match['function']} ({file})"


def per_request(stmts: Sequence[Statement], requests: int) -> float:
    return sum(s.calls for s in stmts) / requests if requests else 0.0
