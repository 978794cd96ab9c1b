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
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from db import demo, migrate, pool
from db import organizations as organizations_db
from db.agents import AgentEmailTaken, create_agent
from db.embedded import EmbeddedPostgres
from db.organizations import Organization, OrganizationExists
from db.tenancy import organization_transaction
from resolvers.agents import issue_token
from schema import schema
from schema.http import GraphQLApp

logger = logging.getLogger("inbox")

SCHEMA_FILE = Path(__file__).parent / "schema.graphql"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str  # the owner's URL: migrations and the command line
    app_database_url: str  # the server's pool, as the inbox_app role
    pool_size: int = 10

    @classmethod
    def from_env(cls, database_url: str) -> Settings:
        password = os.environ.get("INBOX_APP_PASSWORD")
        return cls(
            database_url=database_url,
            app_database_url=os.environ.get("APP_DATABASE_URL")
            or pool.app_url(database_url, password=password),
            pool_size=int(os.environ.get("DATABASE_POOL_SIZE", "10")),
        )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. Without settings, they come from the environment (DATABASE_URL)."""
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
        try:
            yield
        finally:
            await app.state.pool.close()

    graphql = GraphQLApp(
        schema,
        pool_of=lambda request: request.app.state.pool,
        subscription_protocols=("graphql-transport-ws",),
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

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


# --- command line ---------------------------------------------------------------------


class CommandError(Exception):
    """A command's arguments do not fit the data; the message is for the user."""


@contextlib.contextmanager
def database(url: str | None) -> Any:
    """DATABASE_URL (or `url`), or an embedded PostgreSQL started for the block."""
    url = url or os.environ.get("DATABASE_URL")
    if url:
        yield url, None
        return
    embedded = EmbeddedPostgres()
    try:
        yield asyncio.run(embedded.ensure_database()), embedded
    finally:
        embedded.stop()


async def _with_conn(url: str, work: Callable[[asyncpg.Connection], Coroutine[Any, Any, T]]) -> T:
    conn = await asyncpg.connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def prepare(url: str) -> list[str]:
    """Applies migrations and, if INBOX_APP_PASSWORD is set, gives the app role its password."""

    async def work(conn: asyncpg.Connection) -> list[str]:
        applied = await migrate.migrate(conn)
        password = os.environ.get("INBOX_APP_PASSWORD")
        if password:
            await pool.set_app_password(conn, password)
        return applied

    return await _with_conn(url, work)


async def _organization(conn: asyncpg.Connection, name: str) -> Organization:
    found = await organizations_db.find_organization(conn, name)
    if found is None:
        raise CommandError(f"no organisation is named {name!r}")
    return found


async def seed_organization(url: str, name: str) -> dict[str, Any]:
    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        try:
            organization, agents = await demo.seed_demo(conn, name)
        except OrganizationExists as exc:
            raise CommandError(f"an organisation named {name!r} exists already") from exc
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

    return await _with_conn(url, work)


async def demo_tokens(url: str, name: str = "Demo") -> dict[str, Any] | None:
    """Seeds the demo organisation into an empty database, or issues new tokens for the
    existing demo agents (tokens are stored hashed, so old ones cannot be shown again)."""

    async def work(conn: asyncpg.Connection) -> dict[str, Any] | None:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organizations)"):
            return None
        organization = await organizations_db.find_organization(conn, name)
        if organization is None:
            return {}
        async with organization_transaction(conn, organization.id):
            rows = await conn.fetch(
                "SELECT organization_id, id, name, email, avatar_url, role, created_at"
                " FROM agents WHERE organization_id = $1 ORDER BY id",
                organization.id,
            )
        from db.agents import Agent

        return {
            "organization": {"id": organization.id, "name": organization.name},
            "agents": [
                {
                    "name": row["name"],
                    "email": row["email"],
                    "role": row["role"],
                    "token": await issue_token(conn, Agent(**row)),
                }
                for row in rows
            ],
        }

    found = await _with_conn(url, work)
    if found is None:
        return await seed_organization(url, name)
    return found or None


async def create_org(url: str, name: str) -> dict[str, Any]:
    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        try:
            organization = await organizations_db.create_organization(conn, name)
        except OrganizationExists as exc:
            raise CommandError(f"an organisation named {name!r} exists already") from exc
        return {"id": organization.id, "name": organization.name}

    return await _with_conn(url, work)


async def create_agent_command(
    url: str, organization_name: str, name: str, email: str, *, admin: bool
) -> dict[str, Any]:
    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        organization = await _organization(conn, organization_name)
        try:
            async with organization_transaction(conn, organization.id):
                agent = await create_agent(
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
            raise CommandError(f"invalid agent: {exc.constraint_name}") from exc
        return {
            "organization": {"id": organization.id, "name": organization.name},
            "name": agent.name,
            "email": agent.email,
            "role": agent.role,
            "token": await issue_token(conn, agent),
        }

    return await _with_conn(url, work)


def export_schema(path: Path) -> None:
    path.write_text(schema.as_str() + "\n", encoding="utf-8")


def _print_agents(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"Organisation: {result['organization']['name']}")
    for agent in result["agents"]:
        print(f"  {agent['role']:<5} {agent['name']} <{agent['email']}>")
        print(f"        token: {agent['token']}")


def serve(args: argparse.Namespace) -> None:
    with database(args.database_url) as (url, embedded):
        applied = asyncio.run(prepare(url))
        if applied:
            print(f"Applied migrations: {', '.join(applied)}")
        demo_wanted = args.demo if args.demo is not None else embedded is not None
        if demo_wanted:
            result = asyncio.run(demo_tokens(url))
            if result:
                _print_agents(result, as_json=False)
        os.environ["DATABASE_URL"] = url
        print(f"GraphQL: http://{args.host}:{args.port}/graphql", flush=True)
        if args.workers > 1:
            uvicorn.run(
                "server:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=args.log_level,
            )
        else:
            uvicorn.run(
                create_app(Settings.from_env(url)),
                host=args.host,
                port=args.port,
                log_level=args.log_level,
            )
        if embedded is not None:
            print("Stopping the embedded PostgreSQL", flush=True)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="server.py", description=__doc__.splitlines()[0])
    cli.add_argument(
        "--database-url", help="PostgreSQL URL of the schema owner (default: $DATABASE_URL)"
    )
    commands = cli.add_subparsers(dest="command")

    run = commands.add_parser("serve", help="run the server (the default command)")
    _serve_options(run)
    commands.add_parser("migrate", help="apply pending migrations")
    seed = commands.add_parser("seed", help="demo data into a new organisation")
    seed.add_argument("--organization", default="Demo")
    seed.add_argument("--json", action="store_true")
    org = commands.add_parser("create-org", help="create an organisation")
    org.add_argument("name")
    org.add_argument("--json", action="store_true")
    agent = commands.add_parser("create-agent", help="create an agent and print their token")
    agent.add_argument("--organization", required=True)
    agent.add_argument("--name", required=True)
    agent.add_argument("--email", required=True)
    agent.add_argument("--admin", action="store_true")
    agent.add_argument("--json", action="store_true")
    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("path", nargs="?", type=Path, default=SCHEMA_FILE)
    _serve_options(cli)
    return cli


def _serve_options(cli: argparse.ArgumentParser) -> None:
    cli.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    cli.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    cli.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    cli.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    demo_flags = cli.add_mutually_exclusive_group()
    demo_flags.add_argument(
        "--demo",
        dest="demo",
        action="store_true",
        default=None,
        help="load demo data into an empty database (default with the embedded database)",
    )
    demo_flags.add_argument("--no-demo", dest="demo", action="store_false")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "serve":
            serve(args)
        elif command == "export-schema":
            export_schema(args.path)
            print(f"Wrote {args.path}")
        else:
            with database(args.database_url) as (url, _):
                applied = asyncio.run(prepare(url))
                if command == "seed":
                    _print_agents(
                        asyncio.run(seed_organization(url, args.organization)), as_json=args.json
                    )
                elif command == "create-org":
                    result = asyncio.run(create_org(url, args.name))
                    print(json.dumps(result) if args.json else f"Created {result['name']}")
                elif command == "create-agent":
                    result = asyncio.run(
                        create_agent_command(
                            url, args.organization, args.name, args.email, admin=args.admin
                        )
                    )
                    if args.json:
                        print(json.dumps(result, indent=2))
                    else:
                        print(f"Created {result['role']} {result['name']} <{result['email']}>")
                        print(f"token: {result['token']}")
                elif command == "migrate":
                    print(f"Applied: {', '.join(applied)}" if applied else "Up to date")
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except migrate.MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
