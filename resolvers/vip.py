"""VIP contacts and VIP groups.

The queue follows at once: triggers of the schema (db/migrations/0001_schema.sql) give
each conversation of a VIP the priority 1 + its group's priority and route it to its
group's team, and undo both when the contact is demoted or the group changes.

A promotion or demotion share-locks the groups it reads: the contact's group and the one
it joins. An update of such a group (which locks it FOR NO KEY UPDATE) then waits for the
promotion to commit, or the promotion for the update, so that whichever trigger runs last
sees the other's change. (The foreign-key check of contacts.vip_group_id takes only a KEY
SHARE lock, which does not conflict, and would let both run side by side and leave the
conversations ranked by a priority the group no longer has.)
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from db import contacts as contacts_db
from db import teams as teams_db
from db.contacts import Contact
from db.teams import VipGroup, VipGroupNameTaken
from resolvers import ids
from resolvers.auth import require_admin
from resolvers.context import Context
from resolvers.errors import Problems, Rejected, UserError, UserErrorCode
from resolvers.inputs import checked_name, contact_to_change
from resolvers.mutations import write
from resolvers.updates import UNCHANGED, Unchanged, updated

MAX_NAME = 100
MIN_PRIORITY, MAX_PRIORITY = 0, 1000

_CONTACT_ID = ["input", "contactId"]
_VIP_GROUP_ID = ["input", "vipGroupId"]
_ID = ["input", "id"]
_NAME = ["input", "name"]
_PRIORITY = ["input", "priority"]
_TEAM_ID = ["input", "teamId"]


async def promote(
    ctx: Context, contact_gid: str, vip_group_gid: str | None
) -> Contact | list[UserError]:
    """Makes the contact a VIP in the group (or in none, without `vip_group_gid`), moving it
    from any group it was in. The same status again changes nothing. User errors:
    NOT_FOUND for the contact or the group."""
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> Contact:
        problems = Problems()
        contact = await contact_to_change(conn, organization_id, contact_gid, problems, _CONTACT_ID)
        group_id = None if vip_group_gid is None else ids.decode_as(vip_group_gid, "VipGroup")
        current_id = None if contact is None else contact.vip_group_id
        locked = await _lock_groups(conn, organization_id, group_id, current_id)
        if vip_group_gid is not None and (group_id is None or group_id not in locked):
            problems.add(_VIP_GROUP_ID, UserErrorCode.NOT_FOUND, "No VIP group has this id")
        problems.raise_if_any()
        assert contact is not None  # else a problem was raised
        if contact.is_vip and contact.vip_group_id == group_id:
            return contact
        return await _set_vip(conn, contact, is_vip=True, vip_group_id=group_id)

    return _contact_changed(ctx, await write(ctx, work))


async def demote(ctx: Context, contact_gid: str) -> Contact | list[UserError]:
    """Makes the contact a regular contact again; demoting a non-VIP changes nothing.
    User errors: NOT_FOUND for the contact."""
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> Contact:
        problems = Problems()
        contact = await contact_to_change(conn, organization_id, contact_gid, problems, _CONTACT_ID)
        problems.raise_if_any()
        assert contact is not None  # else a problem was raised
        if not contact.is_vip:
            return contact
        await _lock_groups(conn, organization_id, contact.vip_group_id)
        return await _set_vip(conn, contact, is_vip=False, vip_group_id=None)

    return _contact_changed(ctx, await write(ctx, work))


@dataclass(frozen=True, slots=True)
class VipGroupChanges:
    """Fields of updateVipGroup; UNCHANGED where left out. A null team removes the team."""

    name: str | Unchanged
    priority: int | Unchanged
    team_gid: str | Unchanged | None


async def create_vip_group(
    ctx: Context, name: str, priority: int, team_gid: str | None
) -> VipGroup | list[UserError]:
    """Admins only (raises Forbidden). User errors: BLANK, TOO_LONG, INVALID_VALUE for the
    name or priority, ALREADY_EXISTS for a name in use, NOT_FOUND for the team."""
    require_admin(ctx.agent)
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> VipGroup:
        problems = Problems()
        clean_name = _checked_name(problems, name)
        _check_priority(problems, priority)
        team_id = await _team_id(conn, organization_id, team_gid, problems)
        problems.raise_if_any()
        try:
            return await teams_db.create_vip_group(
                conn, organization_id, name=clean_name, priority=priority, team_id=team_id
            )
        except VipGroupNameTaken:
            raise Rejected(_name_taken(clean_name)) from None

    return _vip_group_changed(ctx, await write(ctx, work))


async def update_vip_group(
    ctx: Context, group_gid: str, changes: VipGroupChanges
) -> VipGroup | list[UserError]:
    """Admins only (raises Forbidden). User errors as create_vip_group's, and NOT_FOUND for
    the group. The queue follows a new priority or team at once."""
    require_admin(ctx.agent)
    organization_id = ctx.organization_id

    async def work(conn: asyncpg.Connection) -> VipGroup:
        problems = Problems()
        group_id = ids.decode_as(group_gid, "VipGroup")
        group = (
            None
            if group_id is None
            else await teams_db.vip_group_for_update(conn, organization_id, group_id)
        )
        if group is None:
            problems.add(_ID, UserErrorCode.NOT_FOUND, "No VIP group has this id")
        name = changes.name
        if not isinstance(name, Unchanged):
            name = _checked_name(problems, name)
        if not isinstance(changes.priority, Unchanged):
            _check_priority(problems, changes.priority)
        team_id: int | Unchanged | None = UNCHANGED
        if not isinstance(changes.team_gid, Unchanged):
            team_id = await _team_id(conn, organization_id, changes.team_gid, problems)
        problems.raise_if_any()
        assert group is not None  # else a problem was raised
        new_name = updated(name, group.name)
        new_priority = updated(changes.priority, group.priority)
        new_team_id = updated(team_id, group.team_id)
        if (new_name, new_priority, new_team_id) == (group.name, group.priority, group.team_id):
            return group
        try:
            found = await teams_db.update_vip_group(
                conn,
                organization_id,
                group.id,
                name=new_name,
                priority=new_priority,
                team_id=new_team_id,
            )
        except VipGroupNameTaken:
            raise Rejected(_name_taken(new_name)) from None
        assert found is not None  # locked above
        return found

    return _vip_group_changed(ctx, await write(ctx, work))


async def _lock_groups(
    conn: asyncpg.Connection, organization_id: int, *group_ids: int | None
) -> set[int]:
    """Share-locks the groups (see the module's docstring); the ids of those found."""
    wanted = sorted({group_id for group_id in group_ids if group_id is not None})
    if not wanted:
        return set()
    locked = await teams_db.vip_groups_for_share(conn, organization_id, wanted)
    return {group.id for group in locked}


async def _team_id(
    conn: asyncpg.Connection, organization_id: int, gid: str | None, problems: Problems
) -> int | None:
    """The team's id; None for no team, or after adding NOT_FOUND."""
    if gid is None:
        return None
    team_id = ids.decode_as(gid, "Team")
    found = [] if team_id is None else await teams_db.teams_by_ids(conn, organization_id, [team_id])
    if not found:
        problems.add(_TEAM_ID, UserErrorCode.NOT_FOUND, "No team has this id")
        return None
    return found[0].id


async def _set_vip(
    conn: asyncpg.Connection, contact: Contact, *, is_vip: bool, vip_group_id: int | None
) -> Contact:
    found = await contacts_db.set_vip(
        conn, contact.organization_id, contact.id, is_vip=is_vip, vip_group_id=vip_group_id
    )
    assert found is not None  # locked by the caller
    return found


def _checked_name(problems: Problems, name: str) -> str:
    return checked_name(problems, _NAME, name, max_length=MAX_NAME, label="Name")


def _check_priority(problems: Problems, priority: int) -> None:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        problems.add(
            _PRIORITY,
            UserErrorCode.INVALID_VALUE,
            f"Priority must be between {MIN_PRIORITY} and {MAX_PRIORITY:,}; got {priority:,}",
        )


def _name_taken(name: str) -> UserError:
    return UserError(
        _NAME, f"A VIP group named “{name}” exists already", UserErrorCode.ALREADY_EXISTS
    )


def _contact_changed(ctx: Context, result: Contact | list[UserError]) -> Contact | list[UserError]:
    """Refreshes the request's loaders after a VIP change: the contact, and its
    conversations, which triggers re-ranked."""
    if isinstance(result, Contact):
        loaders = ctx.loaders
        loaders.contact_by_id.clear(result.id).prime(result.id, result)
        loaders.conversation_by_id.clear_all()
        loaders.conversations_by_contact_id.clear_all()
    return result


def _vip_group_changed(
    ctx: Context, result: VipGroup | list[UserError]
) -> VipGroup | list[UserError]:
    if isinstance(result, VipGroup):
        loaders = ctx.loaders
        loaders.vip_group_by_id.clear(result.id).prime(result.id, result)
        loaders.vip_groups_by_organization.clear(ctx.organization_id)
        loaders.conversation_by_id.clear_all()
        loaders.conversations_by_contact_id.clear_all()
    return result
