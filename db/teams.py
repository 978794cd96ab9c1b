"""Teams and VIP groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.records import instances


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
    return instances(Team, rows)


async def teams_of_organization(conn: asyncpg.Connection, organization_id: int) -> list[Team]:
    """All teams, by name."""
    rows = await conn.fetch(
        f"SELECT {_TEAM} FROM teams WHERE organization_id = $1 ORDER BY lower(name), id",
        organization_id,
    )
    return instances(Team, rows)


async def vip_groups_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[VipGroup]:
    rows = await conn.fetch(
        f"SELECT {_VIP_GROUP} FROM vip_groups"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return instances(VipGroup, rows)


async def vip_groups_of_organization(
    conn: asyncpg.Connection, organization_id: int
) -> list[VipGroup]:
    """All VIP groups, highest priority first, then by name."""
    rows = await conn.fetch(
        f"SELECT {_VIP_GROUP} FROM vip_groups WHERE organization_id = $1"
        " ORDER BY priority DESC, lower(name), id",
        organization_id,
    )
    return instances(VipGroup, rows)


# Writes.


class VipGroupNameTaken(Exception):
    """The organisation has a VIP group of that name (case-insensitively) already."""


async def vip_group_for_update(
    conn: asyncpg.Connection, organization_id: int, vip_group_id: int
) -> VipGroup | None:
    """The group, locked until the transaction ends; None for a miss. (NO KEY: the
    foreign-key checks of contacts do not wait for it, while vip_groups_for_share does.)"""
    row = await conn.fetchrow(
        f"SELECT {_VIP_GROUP} FROM vip_groups WHERE organization_id = $1 AND id = $2"
        " FOR NO KEY UPDATE",
        organization_id,
        vip_group_id,
    )
    return None if row is None else VipGroup(**row)


async def vip_groups_for_share(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[VipGroup]:
    """The groups found, by id, share-locked until the transaction ends: a change of a
    group (vip_group_for_update) waits for the locking transaction, or it for the change."""
    rows = await conn.fetch(
        f"SELECT {_VIP_GROUP} FROM vip_groups"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR SHARE",
        organization_id,
        ids,
    )
    return instances(VipGroup, rows)


async def create_vip_group(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    name: str,
    priority: int,
    team_id: int | None,
) -> VipGroup:
    """Raises VipGroupNameTaken."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO vip_groups (organization_id, name, priority, team_id)"
            f" VALUES ($1, $2, $3, $4) RETURNING {_VIP_GROUP}",
            organization_id,
            name,
            priority,
            team_id,
        )
    except asyncpg.UniqueViolationError as exc:
        raise VipGroupNameTaken(name) from exc
    assert row is not None  # INSERT … RETURNING returns its row
    return VipGroup(**row)


async def update_vip_group(
    conn: asyncpg.Connection,
    organization_id: int,
    vip_group_id: int,
    *,
    name: str,
    priority: int,
    team_id: int | None,
) -> VipGroup | None:
    """Replaces the group's fields; a trigger re-ranks and re-routes its VIPs'
    conversations. None for a miss; raises VipGroupNameTaken."""
    try:
        row = await conn.fetchrow(
            "UPDATE vip_groups SET name = $3, priority = $4, team_id = $5, updated_at = now()"
            f" WHERE organization_id = $1 AND id = $2 RETURNING {_VIP_GROUP}",
            organization_id,
            vip_group_id,
            name,
            priority,
            team_id,
        )
    except asyncpg.UniqueViolationError as exc:
        raise VipGroupNameTaken(name) from exc
    return None if row is None else VipGroup(**row)
