"""Agents and their tokens (only the tokens' SHA-256 is stored)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.organizations import Organization
from db.records import instances


class AgentEmailTaken(Exception):
    """Another agent of the organisation has this email address."""


@dataclass(frozen=True, slots=True)
class Agent:
    organization_id: int
    id: int
    name: str
    email: str
    avatar_url: str | None
    role: str
    created_at: datetime


_COLUMNS = "organization_id, id, name, email, avatar_url, role, created_at"


async def create_agent(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    name: str,
    email: str,
    role: str = "AGENT",
    avatar_url: str | None = None,
) -> Agent:
    """Raises AgentEmailTaken when the organisation has an agent with that email."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO agents (organization_id, name, email, role, avatar_url)"
            f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
            organization_id,
            name,
            email,
            role,
            avatar_url,
        )
    except asyncpg.UniqueViolationError as exc:
        raise AgentEmailTaken(email) from exc
    assert row is not None
    return Agent(**row)


async def add_token(
    conn: asyncpg.Connection, organization_id: int, agent_id: int, *, token_sha256: bytes
) -> None:
    await conn.execute(
        "INSERT INTO agent_tokens (organization_id, agent_id, token_sha256) VALUES ($1, $2, $3)",
        organization_id,
        agent_id,
        token_sha256,
    )


async def authenticate(
    conn: asyncpg.Connection, token_sha256: bytes
) -> tuple[Agent, Organization] | None:
    """The agent holding the token and its organisation, or None. On success the current
    transaction is bound to the agent's organisation (see the `authenticate` SQL function)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, organization_name, crm_name, organization_created_at,"
        " attribute_definitions_version FROM authenticate($1)",
        token_sha256,
    )
    if row is None:
        return None
    organization = Organization(
        row["organization_id"],
        row["organization_name"],
        row["crm_name"],
        row["organization_created_at"],
        row["attribute_definitions_version"],
    )
    return Agent(*row[:7]), organization


async def agents_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[Agent]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM agents WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return instances(Agent, rows)


async def list_agents(conn: asyncpg.Connection, organization_id: int) -> list[Agent]:
    """The organisation's agents, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM agents WHERE organization_id = $1 ORDER BY id",
        organization_id,
    )
    return instances(Agent, rows)
