"""Teams and VIP groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Team:
    organization_id: int
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VipGroup:
    organization_id: int
    id: int
    name: str
    priority: int
    team_id: int | None
    created_at: datetime
    updated_at: datetime


_TEAM = "organization_id, id, name, created_at"
_VIP_GROUP = "organization_id, id, name, priority, team_id, created_at, updated_at"


async def teams_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[Team]:
    rows = await conn.fetch(
        f"SELECT {_TEAM} FROM teams WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return [Team(**row) for row in rows]


async def teams_of_organization(conn: asyncpg.Connection, organization_id: int) -> list[Team]:
    """All teams, by name."""
    rows = await conn.fetch(
        f"SELECT {_TEAM} FROM teams WHERE organization_id = $1 ORDER BY lower(name), id",
        organization_id,
    )
    return [Team(**row) for row in rows]


async def vip_groups_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[VipGroup]:
    rows = await conn.fetch(
        f"SELECT {_VIP_GROUP} FROM vip_groups"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return [VipGroup(**row) for row in rows]


async def vip_groups_of_organization(
    conn: asyncpg.Connection, organization_id: int
) -> list[VipGroup]:
    """All VIP groups, highest priority first, then by name."""
    rows = await conn.fetch(
        f"SELECT {_VIP_GROUP} FROM vip_groups WHERE organization_id = $1"
        " ORDER BY priority DESC, lower(name), id",
        organization_id,
    )
    return [VipGroup(**row) for row in rows]
