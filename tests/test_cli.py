"""`server.py` as a command line, run as a subprocess against a database of its own."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

import server
from db.agents import create_agent
from db.migrate import load_migrations
from db.organizations import create_organization
from resolvers.auth import token_sha256
from schema import schema
from tests.test_migrations import throwaway_database

SERVER = Path(server.__file__).resolve()
VIEWER = "{ viewer { name email role } }"
TOKEN_LINE = re.compile(r"^token: (\S+)", re.MULTILINE)
MIGRATION_NAMES = [migration.name for migration in load_migrations()]
TOKEN_ORGANIZATION = "SELECT organization_id FROM agent_tokens WHERE token_sha256 = $1"
ORGANIZATIONS_NAMED = "SELECT count(*) FROM organizations WHERE lower(name) = lower($1)"
AGENTS_WITH_EMAIL = "SELECT count(*) FROM agents WHERE lower(email) = lower($1)"


@dataclass
class Run:
    status: int
    out: str
    err: str


async def cli(*args: str, url: str | None, env: dict[str, str] | None = None) -> Run:
    """Runs `python server.py ARGS` with DATABASE_URL=url (unset when None)."""
    environment = {**os.environ, **(env or {})}
    for name in ("DATABASE_URL", "TEST_DATABASE_URL", "APP_DATABASE_URL", "INBOX_APP_PASSWORD"):
        environment.pop(name, None)
    if url is not None:
        environment["DATABASE_URL"] = url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SERVER),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
        cwd=SERVER.parent,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@dataclass
class Target:
    """The database the commands of this module share, an owner connection to it, and
    the app serving it."""

    url: str
    owner: asyncpg.Connection
    http: httpx.AsyncClient

    async def viewer(self, token: str) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="module")
async def target(server_url: str) -> AsyncIterator[Target]:
    async with throwaway_database(server_url) as url:
        migrated = await cli("migrate", url=url)
        assert migrated.status == 0, migrated.err
        owner = await asyncpg.connect(url)
        app = server.create_app(server.Settings.from_env(url))
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    yield Target(url, owner, http)
        finally:
            await owner.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_migrate_applies_every_migration_once(server_url: str) -> None:
    async with throwaway_database(server_url) as url:
        first = await cli("migrate", url=url)
        second = await cli("migrate", url=url)

    assert (first.status, first.out, first.err) == (
        0,
        f"Applied: {', '.join(MIGRATION_NAMES)}\n",
        "",
    )
    assert (second.status, second.out) == (0, "Up to date\n")


async def test_migrate_refuses_an_edited_migration(server_url: str) -> None:
    async with throwaway_database(server_url) as url:
        assert (await cli("migrate", url=url)).status == 0
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE name = $1",
                MIGRATION_NAMES[-1],
            )
        finally:
            await conn.close()

        run = await cli("migrate", url=url)

    assert run.status == 1
    assert run.err.startswith(f"error: migration {MIGRATION_NAMES[-1]} was changed")
    assert "Traceback" not in run.err


async def test_create_org_prints_the_organisation(target: Target) -> None:
    plain = await cli("create-org", "Initech", url=target.url)
    as_json = await cli("create-org", "  Hooli  ", "--json", url=target.url)

    assert (plain.status, plain.out) == (0, "Created organisation Initech\n")
    created = json.loads(as_json.out)
    assert created == {"id": created["id"], "name": "Hooli"}
    assert isinstance(created["id"], int)
    keys = await target.owner.fetch(
        "SELECT key FROM attribute_definitions WHERE organization_id = $1 ORDER BY position",
        created["id"],
    )
    assert [row["key"] for row in keys] == ["email", "phone", "url"]


async def test_a_taken_organisation_name_is_refused(target: Target) -> None:
    await create_organization(target.owner, "Umbrella")

    run = await cli("create-org", "UMBRELLA", url=target.url)

    assert run.status == 2
    assert run.err == "error: an organisation named 'UMBRELLA' exists already\n"
    assert await target.owner.fetchval(ORGANIZATIONS_NAMED, "umbrella") == 1


async def test_create_agent_prints_a_token_that_authenticates(target: Target) -> None:
    await create_organization(target.owner, "Vandelay")

    run = await cli(
        "create-agent",
        *("--organization", "vandelay", "--name", "Art V", "--email", "art@vandelay.example"),
        url=target.url,
    )

    assert run.status == 0, run.err
    assert run.out.startswith("Created AGENT Art V <art@vandelay.example>\n")
    tokens = TOKEN_LINE.findall(run.out)
    assert len(tokens) == 1
    reply = await target.viewer(tokens[0])
    assert reply.status_code == 200
    assert "errors" not in reply.json()
    assert reply.json()["data"] == {
        "viewer": {"name": "Art V", "email": "art@vandelay.example", "role": "AGENT"}
    }

    wrong = await target.viewer(tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B"))
    assert wrong.status_code == 401
    assert [e["extensions"]["code"] for e in wrong.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_create_agent_json_for_an_admin(target: Target) -> None:
    await create_organization(target.owner, "Wonka")

    run = await cli(
        "create-agent",
        *("--organization", "Wonka", "--name", "Willy", "--email", "willy@wonka.example"),
        *("--admin", "--json"),
        url=target.url,
    )

    assert run.status == 0, run.err
    printed = json.loads(run.out)
    token = printed.pop("token")
    organization_id = printed["organization"]["id"]
    assert printed == {
        "organization": {"id": organization_id, "name": "Wonka"},
        "name": "Willy",
        "email": "willy@wonka.example",
        "role": "ADMIN",
    }
    assert run.out.count(token) == 1
    # Stored as a hash only, in the agent's organisation.
    assert await target.owner.fetchval(TOKEN_ORGANIZATION, token_sha256(token)) == organization_id
    reply = await target.viewer(token)
    assert reply.json()["data"]["viewer"]["role"] == "ADMIN"


async def test_a_taken_email_is_refused(target: Target) -> None:
    stark = await create_organization(target.owner, "Stark")
    await create_agent(target.owner, stark.id, name="Pepper", email="pepper@stark.example")

    run = await cli(
        "create-agent",
        *("--organization", "Stark", "--name", "Pepper", "--email", "Pepper@Stark.example"),
        url=target.url,
    )

    assert run.status == 2
    assert run.err == "error: Stark already has an agent with email 'Pepper@Stark.example'\n"
    assert run.out == ""
    assert await target.owner.fetchval(AGENTS_WITH_EMAIL, "pepper@stark.example") == 1


async def test_an_unknown_organisation_is_refused(target: Target) -> None:
    run = await cli(
        "create-agent",
        *("--organization", "Nowhere", "--name", "N", "--email", "n@nowhere.example"),
        url=target.url,
    )

    assert run.status == 2
    assert run.err == "error: no organisation is named 'Nowhere'\n"
    assert await target.owner.fetchval(AGENTS_WITH_EMAIL, "n@nowhere.example") == 0


async def test_an_invalid_email_is_refused(target: Target) -> None:
    await create_organization(target.owner, "Tyrell")

    run = await cli(
        "create-agent",
        *("--organization", "Tyrell", "--name", "Rachael", "--email", "rachael"),
        url=target.url,
    )

    assert run.status == 2
    assert run.err.startswith("error: an email address looks like name@domain")
    assert await target.owner.fetchval(AGENTS_WITH_EMAIL, "rachael") == 0


async def test_two_organisations_are_seeded_side_by_side(target: Target) -> None:
    north, south = await asyncio.gather(
        cli("seed", "--organization", "North", "--json", url=target.url),
        cli("seed", "--organization", "South", "--json", url=target.url),
    )

    seeded = []
    for run, name in ((north, "North"), (south, "South")):
        assert run.status == 0, run.err
        printed = json.loads(run.out)
        assert set(printed) == {"organization", "agents"}
        assert printed["organization"] == {"id": printed["organization"]["id"], "name": name}
        assert [set(agent) for agent in printed["agents"]] == [
            {"name", "email", "role", "token"}
        ] * 2
        assert sorted(agent["role"] for agent in printed["agents"]) == ["ADMIN", "AGENT"]
        seeded.append(printed)
    assert seeded[0]["organization"]["id"] != seeded[1]["organization"]["id"]

    for printed in seeded:
        for agent in printed["agents"]:
            organization_id = await target.owner.fetchval(
                TOKEN_ORGANIZATION, token_sha256(agent["token"])
            )
            assert organization_id == printed["organization"]["id"]
            reply = await target.viewer(agent["token"])
            assert reply.json()["data"]["viewer"] == {
                "name": agent["name"],
                "email": agent["email"],
                "role": agent["role"],
            }
    contacts = await target.owner.fetch(
        "SELECT o.name, count(c.id) AS n FROM organizations o JOIN contacts c"
        " ON c.organization_id = o.id WHERE o.name IN ('North', 'South')"
        " GROUP BY o.name ORDER BY o.name"
    )
    assert [(row["name"], row["n"]) for row in contacts] == [("North", 50), ("South", 50)]


async def test_seed_refuses_a_taken_name(target: Target) -> None:
    await create_organization(target.owner, "Acme Seed")

    run = await cli("seed", "--organization", "acme seed", url=target.url)

    assert run.status == 2
    assert run.err == "error: an organisation named 'acme seed' exists already\n"
    assert await target.owner.fetchval(ORGANIZATIONS_NAMED, "acme seed") == 1


async def test_seed_prints_the_agents_and_their_tokens(target: Target) -> None:
    run = await cli("seed", "--organization", "Plain Seed", url=target.url)

    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "Organisation: Plain Seed"
    assert lines[1].split() == ["ADMIN", "Alex", "Admin", "<admin@demo.example>"]
    assert lines[3].split() == ["AGENT", "Sam", "Agent", "<agent@demo.example>"]
    for line in (lines[2], lines[4]):
        reply = await target.viewer(line.split("token: ")[1])
        assert reply.status_code == 200


async def test_export_schema_writes_the_sdl_without_a_database(tmp_path: Path) -> None:
    path = tmp_path / "out.graphql"

    run = await cli(
        "export-schema", str(path), url=None, env={"HOME": str(tmp_path), "XDG_DATA_HOME": ""}
    )

    assert (run.status, run.out) == (0, f"Wrote {path}\n")
    sdl = await asyncio.to_thread(path.read_text, encoding="utf-8")
    assert sdl == schema.as_str() + "\n"
    assert "type Query {" in sdl
    # No embedded PostgreSQL was started for it.
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["out.graphql"]


async def test_export_schema_to_an_impossible_path_fails(tmp_path: Path) -> None:
    run = await cli("export-schema", str(tmp_path / "missing" / "out.graphql"), url=None)

    assert run.status == 2
    assert run.err.startswith("error: cannot write ")


BAD_ARGUMENTS = {
    ("create-agent", "--organization", "X", "--name", "Y"): "required: --email",
    ("create-org", "   "): "argument name: must not be blank",
    ("create-org",): "required: name",
    ("--port", "0"): "'0' is not a port number",
    ("serve", "--port", "http"): "'http' is not a port number",
    ("--workers", "none"): "'none' is not a number of processes",
    ("seed", "--organization"): "expected one argument",
    ("frobnicate",): "invalid choice: 'frobnicate'",
}


async def test_bad_arguments_are_usage_errors(target: Target) -> None:
    runs = await asyncio.gather(*(cli(*args, url=target.url) for args in BAD_ARGUMENTS))

    for run, complaint in zip(runs, BAD_ARGUMENTS.values(), strict=True):
        assert run.status == 2, complaint
        assert "usage: server.py" in run.err
        assert complaint in run.err
        assert run.out == ""


async def test_an_unreachable_database_is_a_clear_error() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"

    runs = await asyncio.gather(
        cli("migrate", url=url),
        cli("create-org", "Anything", url=url),
        cli("serve", "--port", str(free_port()), url=url),
    )

    for run in runs:
        assert run.status == 1
        assert run.err.startswith("error: cannot connect to the database: ")
        assert "Traceback" not in run.err


def test_options_count_before_and_after_the_command() -> None:
    parse = server.parser().parse_args

    before = parse(["--port", "9000", "--database-url", "postgresql:///a", "serve"])
    after = parse(["serve", "--port", "9001", "--no-demo"])
    migrate = parse(["migrate", "--database-url", "postgresql:///b"])

    assert (before.command, before.port, before.database_url) == ("serve", 9000, "postgresql:///a")
    assert (after.port, after.demo, after.database_url) == (9001, False, None)
    assert (migrate.command, migrate.database_url) == ("migrate", "postgresql:///b")
    assert parse([]).command is None  # serve
