"""Agents and their tokens (used by the command line)."""

from __future__ import annotations

import asyncpg

from db import agents as agents_db
from db.agents import Agent
from db.tenancy import organization_transaction
from resolvers.auth import new_token, token_sha256


async def issue_token(conn: asyncpg.Connection, agent: Agent) -> str:
    """A new bearer token for the agent. Only its hash is stored: show it once."""
    token = new_token()
    async with organization_transaction(conn, agent.organization_id):
        await agents_db.add_token(
            conn, agent.organization_id, agent.id, token_sha256=token_sha256(token)
        )
    return token
