"""Tests run against a real PostgreSQL: TEST_DATABASE_URL or DATABASE_URL (an owner that
may create databases), else an embedded one started for the session. Each run creates
its own database with the production migrations; every test starts from empty tables."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

import server
from db import demo, migrate
from db.embedded import EmbeddedPostgres
from db.pool import database_url
from resolvers.agents import issue_token

TABLES = (
    "note_revisions, notes, messages, conversations, crm_outbox, contact_attribute_values,"
    " attribute_definitions, contacts, vip_groups, teams, agent_tokens, agents, organizations"
)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server reachable as a superuser (its `postgres` database)."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    # Not pytest's own temporary directory: as root, the embedded server opens the data
    # directory's parents to its system user, and pytest makes its directory private again.
    base = Path(tempfile.mkdtemp(prefix="inbox-test-pg-"))
    embedded = EmbeddedPostgres(base / "pgdata")
    try:
        yield embedded.url("postgres")
    finally:
        embedded.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def database(server_url: str) -> AsyncIterator[str]:
    """A fresh database for this run, migrated; dropped at the end."""
    name = f"inbox_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(server_url, name)
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def owner(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the schema owner, starting from empty tables."""
    conn = await asyncpg.connect(database)
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def app(database: str) -> AsyncIterator[Starlette]:
    application = server.create_app(server.Settings.from_env(database))
    async with application.router.lifespan_context(application):
        yield application


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    statements: int
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        assert "errors" not in self.body, self.body["errors"]
        return self.body["data"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors", [])
        return errors

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.errors]


class GraphQL:
    """Posts operations to the app as an agent."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.token = token

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> Reply:
        """Posts the operation. Non-ASCII characters go escaped, as JavaScript's
        JSON.stringify sends lone surrogates (httpx's encoder would refuse them)."""
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": query, "variables": variables or {}}, ensure_ascii=True)
        response = await self.client.post("/graphql", content=body, headers=headers)
        return Reply(
            response.status_code,
            response.json(),
            int(response.headers.get("x-sql-statements", "-1")),
            response.headers,
        )

    def as_agent(self, token: str | None) -> GraphQL:
        return GraphQL(self.client, token)


@dataclass
class Org:
    id: int
    name: str
    admin: GraphQL
    agent: GraphQL
    admin_id: int
    agent_id: int


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _seed(owner: asyncpg.Connection, client: httpx.AsyncClient, name: str) -> Org:
    organization, (admin, agent) = await demo.seed_demo(owner, name)
    return Org(
        organization.id,
        organization.name,
        GraphQL(client, await issue_token(owner, admin)),
        GraphQL(client, await issue_token(owner, agent)),
        admin.id,
        agent.id,
    )


@pytest.fixture
async def demo_org(owner: asyncpg.Connection, client: httpx.AsyncClient) -> Org:
    """The demo organisation (50 contacts …) with an admin and an agent."""
    return await _seed(owner, client, "Demo")


@pytest.fixture
async def other_org(owner: asyncpg.Connection, client: httpx.AsyncClient, demo_org: Org) -> Org:
    """A second organisation with the same kind of data, for isolation tests."""
    return await _seed(owner, client, "Other")


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client, None)


async def websocket_handshake(
    app: Starlette, *, host: str, client: str, origin: str | None = None
) -> list[Message]:
    """What the app sends in answer to a WebSocket handshake on /graphql."""
    headers = [(b"host", host.encode()), (b"sec-websocket-protocol", b"graphql-transport-ws")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": (host.rpartition(":")[0] or host, 8000),
        "client": (client, 50000),
        "root_path": "",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": headers,
        "subprotocols": ["graphql-transport-ws"],
        "extensions": {},
        "state": {},
    }
    incoming: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
