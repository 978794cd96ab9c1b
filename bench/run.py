"""Runs the benchmark end to end and writes bench/RESULTS.md.

    python -m bench.run [--scale small|large|tiny] [--duration 10] [--profile 10]

Starts a private PostgreSQL (bench/cluster.py), generates the scale's data unless it is
cached there already, starts our server and PostGraphile on it, and for each operation:
warms both servers up, counts the SQL statements of a few requests with
pg_stat_statements, then drives it with wrk at each concurrency (the two servers' runs
interleaved) while sampling the servers' memory. Then it captures the plans of the hot
queries with auto_explain, optionally profiles our workers with py-spy, and stops
everything. Any error response fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import sysconfig
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from bench import measure, report
from bench.cluster import Cluster, Settings, default_bench_dir
from bench.dataset import FIRST_NAMES, LAST_NAMES, ascii_fold
from bench.generate import (
    GENERATOR_VERSION,
    MAIN_ORGANIZATION,
    RUNNER_EMAIL,
    SCALES,
    generate,
)
from bench.operations import (
    DIFFERENCES,
    OPERATIONS,
    OURS,
    Operation,
    Samples,
    lua_script,
)
from bench.processes import (
    NODE,
    POSTGRAPHILE_DIR,
    CpuMeter,
    MemorySampler,
    Server,
    free_port,
    post_json,
    start_ours,
    start_postgraphile,
)
from db.agents import Agent
from db.migrate import migrate
from resolvers.agents import issue_token

BENCH_DIR = Path(__file__).resolve().parent
APP_ROLE = "inbox_app"
OWNER_ROLE = "postgres"
PG_QUEUE_INDEX = (
    "CREATE INDEX IF NOT EXISTS bench_postgraphile_queue_idx"
    " ON conversations (organization_id, priority DESC, last_message_at, id)"
)
SAMPLE_CONTACTS = 5_000
STATEMENT_REQUESTS = 20


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    cli.add_argument("--scale", choices=SCALES, default="small")
    cli.add_argument("--seed", type=int, default=1)
    cli.add_argument("--duration", type=int, default=10, help="seconds per run (at most 30)")
    cli.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per operation")
    cli.add_argument("--concurrency", default="1,10", help="comma-separated connection counts")
    cli.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    cli.add_argument("--wrk-threads", type=int, default=1)
    cli.add_argument("--repeat", type=int, default=1, help="runs per figure; the median counts")
    cli.add_argument("--operations", default="Q1,Q2,Q3,M1")
    cli.add_argument("--no-postgraphile", action="store_true")
    cli.add_argument(
        "--profile", type=int, default=0, help="seconds of py-spy per query (0: no profile)"
    )
    cli.add_argument("--data-dir", type=Path, default=default_bench_dir())
    cli.add_argument("--shared-buffers", default="1GB")
    cli.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md")
    args = cli.parse_args(argv)
    if not 0 < args.duration <= 30:
        cli.error("--duration must be within (0, 30] seconds")
    return asyncio.run(Benchmark(args).run())


class Benchmark:
    """One run of the benchmark; `results` becomes bench/results/<scale>.json."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale: str = args.scale
        self.contacts = SCALES[self.scale]
        self.database = f"bench_{self.scale}_s{args.seed}"
        self.concurrency = [int(c) for c in args.concurrency.split(",")]
        self.wanted = set(args.operations.split(","))
        self.logs = Path(args.data_dir) / "logs"
        self.cluster = Cluster(
            Path(args.data_dir), Settings(port=free_port(), shared_buffers=args.shared_buffers)
        )
        self.results: dict[str, Any] = {
            "scale": self.scale,
            "contacts": self.contacts,
            "seed": args.seed,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "concurrency": self.concurrency,
                "workers": args.workers,
                "wrk_threads": args.wrk_threads,
                "repeat": args.repeat,
                "postgraphile": not args.no_postgraphile,
            },
            "runs": [],
            "statements": {},
            "notes": [],
            "differences": list(DIFFERENCES) if not args.no_postgraphile else [],
        }

    async def run(self) -> int:
        _ensure_wrk()
        if not self.args.no_postgraphile:
            _ensure_postgraphile()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.results["machine"] = _machine()
        self.results["load_average"] = {"before": os.getloadavg()}
        cluster = self.cluster
        log(f"Starting PostgreSQL in {cluster.pgdata}")
        cluster.start()
        servers: list[Server] = []
        try:
            admin = await asyncpg.connect(cluster.url("postgres"))
            try:
                await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                await self._prepare_data(cluster, admin)
                samples, token = await self._samples(cluster)
                url = cluster.url(self.database)
                log(f"Starting our server ({self.args.workers} workers)")
                ours = start_ours(url, workers=self.args.workers, log=self.logs / "ours.log")
                servers.append(ours)
                theirs = None
                if not self.args.no_postgraphile:
                    log("Starting PostGraphile")
                    theirs = start_postgraphile(url, log=self.logs / "postgraphile.log")
                    servers.append(theirs)
                for server in servers:
                    server.wait_ready()
                self.results["versions"] = await asyncio.to_thread(
                    _versions, str(await admin.fetchval("SHOW server_version"))
                )
                await self._measure(admin, ours, theirs, samples, token)
                await self._plans(admin, cluster, ours, theirs, samples, token)
                if self.args.profile:
                    self._profile(ours, samples, token)
            finally:
                await admin.close()
        finally:
            for server in servers:
                server.stop()
            log("Stopping PostgreSQL")
            cluster.stop()
        self.results["load_average"]["after"] = os.getloadavg()
        failed = [r for r in self.results["runs"] if r["errors"]]
        self.results["failed"] = bool(failed)
        written = report.write(self.results, self.args.results)
        log(f"Wrote {written}")
        for run in failed:
            where = f"{run['op']} {run['server']} c={run['concurrency']}"
            log(f"FAILED: {where}: {run['errors']} errors")
        return 1 if failed else 0

    # --- data ---------------------------------------------------------------------------

    async def _prepare_data(self, cluster: Cluster, admin: asyncpg.Connection) -> None:
        marker = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            self.database,
        )
        generated = _parse_marker(marker)
        fresh = (
            generated is not None
            and generated.get("generator") == GENERATOR_VERSION
            and generated.get("contacts") == self.contacts
        )
        if fresh:
            assert generated is not None
            log(f"Using the cached {self.scale} data ({self.database})")
            conn = await asyncpg.connect(cluster.url(self.database))
            try:
                if await migrate(conn):
                    # New migrations may have rewritten or filled tables: vacuum and
                    # analyse now, or autovacuum does it during the first measurements.
                    log("Vacuuming after new migrations")
                    await conn.execute("VACUUM (ANALYZE)")
            finally:
                await conn.close()
            generated["generated_now"] = False
        else:
            log(f"Generating the {self.scale} data ({self.contacts:,} contacts)")
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{self.database}"')
            done = await generate(
                cluster.url(self.database),
                contacts=self.contacts,
                seed=self.args.seed,
                progress=log,
            )
            generated = json.loads(done.marker())
            generated["generated_now"] = True
        self.results["generator"] = generated
        if not self.args.no_postgraphile:
            conn = await asyncpg.connect(cluster.url(self.database))
            try:
                await conn.execute(PG_QUEUE_INDEX)
            finally:
                await conn.close()
        self.results["database_size"] = await admin.fetchval(
            "SELECT pg_size_pretty(pg_database_size($1))", self.database
        )

    async def _samples(self, cluster: Cluster) -> tuple[Samples, str]:
        conn = await asyncpg.connect(cluster.url(self.database))
        try:
            organization_id = await conn.fetchval(
                "SELECT id FROM organizations WHERE name = $1", MAIN_ORGANIZATION
            )
            ids = [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM contacts WHERE organization_id = $1 ORDER BY id",
                    organization_id,
                )
            ]
            row = await conn.fetchrow(
                "SELECT organization_id, id, name, email, avatar_url, role, created_at"
                " FROM agents WHERE organization_id = $1 AND email = $2",
                organization_id,
                RUNNER_EMAIL,
            )
            assert row is not None, "the runner agent is missing; regenerate the data"
            # Earlier runs' tokens are of no use (only their hashes were kept).
            await conn.execute(
                "DELETE FROM agent_tokens WHERE organization_id = $1 AND agent_id = $2",
                organization_id,
                row["id"],
            )
            token = await issue_token(conn, Agent(**row))
        finally:
            await conn.close()
        rng = random.Random(self.args.seed)
        prefixes = sorted({ascii_fold(name)[:3] for name in FIRST_NAMES + LAST_NAMES})
        samples = Samples(
            organization_id=organization_id,
            contact_ids=rng.sample(ids, min(SAMPLE_CONTACTS, len(ids))),
            search_prefixes=prefixes,
        )
        return samples, token

    # --- load runs -----------------------------------------------------------------------

    async def _measure(
        self,
        admin: asyncpg.Connection,
        ours: Server,
        theirs: Server | None,
        samples: Samples,
        token: str,
    ) -> None:
        available = _our_mutations(ours, token)
        template = measure.WRK_TEMPLATE.read_text()
        for key in ("Q1", "Q2", "Q3", "M1"):
            if key not in self.wanted:
                continue
            if key == "M1" and "addContactNote" not in available:
                self.results["notes"].append(
                    "M1 skipped: the server's schema has no addContactNote mutation yet."
                )
                continue
            pairs: list[tuple[Operation, Server, str]] = []
            for op in OPERATIONS:
                if op.key != key:
                    continue
                if op.server == OURS:
                    pairs.append((op, ours, lua_script(template, op.bodies(samples), _auth(token))))
                elif theirs is not None:
                    pairs.append((op, theirs, lua_script(template, op.bodies(samples), _JSON)))
            started = datetime.now(UTC)
            for op, server, script in pairs:
                _smoke(op, server, samples, token)
                log(f"{key} {op.title} ({op.server}): warm-up {self.args.warmup:g} s")
                await asyncio.to_thread(
                    measure.run_wrk,
                    server.url,
                    script,
                    connections=max(self.concurrency),
                    threads=self.args.wrk_threads,
                    seconds=self.args.warmup,
                )
            for op, server, _ in pairs:
                self.results["statements"][f"{op.key} {op.server}"] = await self._count_statements(
                    admin, op, server, samples, token
                )
            for connections in self.concurrency:
                repeats: dict[str, list[dict[str, Any]]] = {}
                for _ in range(self.args.repeat):
                    for op, server, script in pairs:
                        run = await self._one(op, server, script, connections)
                        repeats.setdefault(op.server, []).append(run)
                for runs in repeats.values():
                    runs.sort(key=lambda r: r["rps"])
                    chosen = runs[len(runs) // 2]
                    chosen["rps_all"] = [r["rps"] for r in runs]
                    self.results["runs"].append(chosen)
            if key == "M1":
                await self._forget_notes(samples, started)

    async def _one(
        self,
        op: Operation,
        server: Server,
        script: str,
        connections: int,
    ) -> dict[str, Any]:
        roots = {"server": server.process.pid, "postgresql": self.cluster.pid()}
        with MemorySampler(server) as memory, CpuMeter(roots) as cpu:
            load = await asyncio.to_thread(
                measure.run_wrk,
                server.url,
                script,
                connections=connections,
                threads=self.args.wrk_threads,
                seconds=self.args.duration,
            )
        run = {
            "op": op.key,
            "title": op.title,
            "server": op.server,
            "concurrency": connections,
            "requests": load.requests,
            "rps": round(load.rps, 1),
            "p50_ms": round(load.p50_ms, 2),
            "p90_ms": round(load.p90_ms, 2),
            "p99_ms": round(load.p99_ms, 2),
            "max_ms": round(load.max_ms, 2),
            "errors": load.errors,
            "error_sample": load.error_sample,
            "statements_per_request": self.results["statements"][f"{op.key} {op.server}"][
                "per_request"
            ],
            "rss_kib": {str(pid): [role, kib] for pid, (role, kib) in memory.peaks.items()},
            # CPU per request answered: the server's processes, and the whole cluster's.
            "cpu_ms_per_request": {
                name: round(seconds * 1000 / load.requests, 3) if load.requests else None
                for name, seconds in cpu.used.items()
            },
        }
        log(
            f"  {op.key} {op.server:<12} c={connections:<3} {run['rps']:>8.1f} req/s"
            f"  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms"
            f"  errors {run['errors']}  SQL/request {run['statements_per_request']}"
        )
        if load.errors:
            log(f"    first error: {load.error_sample}")
        return run

    async def _count_statements(
        self,
        admin: asyncpg.Connection,
        op: Operation,
        server: Server,
        samples: Samples,
        token: str,
    ) -> dict[str, Any]:
        """The statements of STATEMENT_REQUESTS requests sent one after the other, as
        pg_stat_statements counts them. (Under load, requests still in flight when wrk
        stops would be counted by PostgreSQL but not by wrk.)"""
        bodies = op.bodies(samples)
        headers = _auth(token) if op.server == OURS else _JSON
        role = APP_ROLE if op.server == OURS else OWNER_ROLE
        # Requests of the warm-up may still be being answered.
        await measure.wait_idle(admin, self.database, role)
        await measure.reset_statements(admin)
        for n in range(STATEMENT_REQUESTS):
            body = bodies[n % len(bodies)].encode()
            await asyncio.to_thread(post_json, server.url, body, headers)
        stmts = await measure.statements(admin, self.database, role)
        return {
            "requests": STATEMENT_REQUESTS,
            "per_request": round(measure.per_request(stmts, STATEMENT_REQUESTS), 2),
            "statements": [
                {
                    "query": s.query,
                    "per_request": round(s.calls / STATEMENT_REQUESTS, 2),
                    "mean_ms": round(s.mean_ms, 3),
                }
                for s in stmts
            ],
        }

    async def _forget_notes(self, samples: Samples, since: datetime) -> None:
        # M1's notes would pile up run after run and change what Q2 reads.
        conn = await asyncpg.connect(self.cluster.url(self.database))
        try:
            deleted = await conn.execute(
                "DELETE FROM notes WHERE organization_id = $1 AND created_at >= $2 AND author_id ="
                " (SELECT id FROM agents WHERE organization_id = $1 AND email = $3)",
                samples.organization_id,
                since,
                RUNNER_EMAIL,
            )
            await conn.execute("VACUUM (ANALYZE) notes")
        finally:
            await conn.close()
        log(f"Removed M1's notes ({deleted.split()[-1]})")

    # --- plans and profile ---------------------------------------------------------------

    async def _plans(
        self,
        admin: asyncpg.Connection,
        cluster: Cluster,
        ours: Server,
        theirs: Server | None,
        samples: Samples,
        token: str,
    ) -> None:
        log("Capturing plans with auto_explain")
        plans: list[dict[str, Any]] = []
        await measure.set_auto_explain(admin, on=True)
        try:
            for op in OPERATIONS:
                if op.key not in self.wanted or op.key == "M1":
                    continue
                server = ours if op.server == OURS else theirs
                if server is None:
                    continue
                headers = _auth(token) if op.server == OURS else _JSON
                role = APP_ROLE if op.server == OURS else OWNER_ROLE
                # The first and the last sample: for a search, the first prefix and the
                # last in alphabetical order, whose plans can differ widely.
                bodies = op.bodies(samples)
                for body in dict.fromkeys([bodies[0], bodies[-1]]):
                    offset = cluster.json_log.stat().st_size
                    # A pooled connection's first statement may run before its backend
                    # has reloaded the configuration: the last plans of five are kept.
                    for _ in range(5):
                        await asyncio.to_thread(post_json, server.url, body.encode(), headers)
                    logged = await asyncio.to_thread(
                        measure.logged_plans,
                        cluster.json_log,
                        offset,
                        database=self.database,
                        role=role,
                    )
                    plans.append(
                        {
                            "op": op.key,
                            "server": op.server,
                            "variables": json.loads(body)["variables"],
                            "plans": logged,
                        }
                    )
        finally:
            await measure.set_auto_explain(admin, on=False)
        self.results["plans"] = plans

    def _profile(self, ours: Server, samples: Samples, token: str) -> None:
        template = measure.WRK_TEMPLATE.read_text()
        profiles: dict[str, Any] = {}
        for op in OPERATIONS:
            if op.server != OURS or op.key not in self.wanted or op.key == "M1":
                continue
            script = lua_script(template, op.bodies(samples), _auth(token))
            output = self.logs / f"profile-{op.key}.txt"
            log(f"Profiling {op.key} ({self.args.profile} s at c={max(self.concurrency)})")
            spy = measure.start_profile(ours.process.pid, self.args.profile, output)
            if spy is None:
                self.results["notes"].append(
                    "No profile: py-spy is not installed (pip install -e '.[bench]')."
                )
                return
            time.sleep(0.5)
            measure.run_wrk(
                ours.url,
                script,
                connections=max(self.concurrency),
                threads=self.args.wrk_threads,
                seconds=self.args.profile + 1,
            )
            if spy.wait() != 0 or not output.exists():
                error = spy.stderr.read() if spy.stderr else ""
                self.results["notes"].append(f"The profile of {op.key} failed: {error[-500:]}")
                continue
            profiles[op.key] = measure.summarise_profile(output)
            profiles[op.key]["collapsed_stacks"] = str(output)
        self.results["profile"] = profiles


_JSON = {"Content-Type": "application/json"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **_JSON}


def _smoke(op: Operation, server: Server, samples: Samples, token: str) -> None:
    """One request before the load, so a broken operation fails with its message."""
    headers = _auth(token) if op.server == OURS else _JSON
    status, body = post_json(server.url, op.bodies(samples)[0].encode(), headers)
    answer = json.loads(body) if body.startswith(b"{") else {}
    if status != 200 or "errors" in answer:
        raise SystemExit(f"{op.key} on {op.server} fails: HTTP {status} {body[:500]!r}")


def _our_mutations(ours: Server, token: str) -> set[str]:
    status, body = post_json(
        ours.url, b'{"query": "{ __type(name: \\"Mutation\\") { fields { name } } }"}', _auth(token)
    )
    kind = json.loads(body).get("data", {}).get("__type") if status == 200 else None
    return {field["name"] for field in kind["fields"]} if kind else set()


def _parse_marker(marker: str | None) -> dict[str, Any] | None:
    if not marker:
        return None
    try:
        parsed = json.loads(marker)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("Installing wrk (apt-get)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        return
    raise SystemExit("wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk)")


def _ensure_postgraphile() -> None:
    if NODE.exists() and (POSTGRAPHILE_DIR / "node_modules" / "postgraphile").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm is missing (needed once, to install PostGraphile and Node 22 into "
            "bench/postgraphile): install it (Debian: apt-get install npm) or pass "
            "--no-postgraphile"
        )
    log("Installing PostGraphile and Node 22 (npm ci in bench/postgraphile)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=POSTGRAPHILE_DIR, check=True)


def _machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "os": _os_name(),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _code_version() -> str:
    """The commit measured, marked "+changes" when files other than the results differ
    from it; "unknown" outside a git checkout."""
    git = ["git", "-C", str(BENCH_DIR.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown"
    results = [":!bench/RESULTS.md", ":!bench/results"]
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no", "--", ".", *results],
        capture_output=True,
        text=True,
    )
    return head.stdout.strip() + ("+changes" if changed.stdout.strip() else "")


def _python_build() -> str:
    """Which CPython build runs the server: its executable, and whether the interpreter
    is in a shared libpython. Builds differ in speed as much as a release does (see the
    README's Benchmark section)."""
    try:  # what the process loaded, not how the build was configured
        shared = "/libpython" in Path("/proc/self/maps").read_text()
    except OSError:
        shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
    optimized = "--enable-optimizations" in (sysconfig.get_config_var("CONFIG_ARGS") or "")
    return (
        f"{getattr(sys, '_base_executable', sys.executable)}, "
        f"{'shared libpython' if shared else 'libpython linked in'}"
        f"{', --enable-optimizations' if optimized else ''}"
    )


def _versions(postgresql: str) -> dict[str, str]:
    versions = {
        "inbox": _code_version(),
        "python": f"{platform.python_version()} ({_python_build()})",
    }
    versions["postgresql"] = postgresql
    for package in (
        "strawberry-graphql",
        "graphql-core",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "asyncpg",
        "aiodataloader",
        "orjson",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    if NODE.exists():
        versions["node"] = subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        for package in ("postgraphile", "grafast", "pg"):
            manifest = POSTGRAPHILE_DIR / "node_modules" / package / "package.json"
            if manifest.exists():
                versions[package] = json.loads(manifest.read_text())["version"]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    versions["wrk"] = (wrk.stdout or wrk.stderr).split("[")[0].removeprefix("wrk ").strip()
    return versions


if __name__ == "__main__":
    sys.exit(main())
