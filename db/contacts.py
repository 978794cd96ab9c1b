"""Contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.attributes import (
    CONTACT_VALUES_COLUMNS,
    CONTACT_VALUES_JOIN,
    AttributeValue,
    ContactValues,
    ValuesRead,
    contact_values,
)
from db.keyset import Key, Window, in_order, page_sql
from db.records import builder, instances
from db.teams import VipGroup


@dataclass(frozen=True, slots=True)
class Contact:
    organization_id: int
    id: int
    network: str
    network_user_id: str
    handle: str
    name: str
    avatar_url: str | None
    validation_status: str
    crm_record_id: str | None
    validated_at: datetime | None
    last_lookup_at: datetime | None
    is_vip: bool
    vip_group_id: int | None
    created_at: datetime
    updated_at: datetime


COLUMNS = (
    "organization_id, id, network, network_user_id, handle, name, avatar_url,"
    " validation_status, crm_record_id, validated_at, last_lookup_at, is_vip, vip_group_id,"
    " created_at, updated_at"
)

# contacts(...) order: by name, ties by id.
ORDER_KEY = ("name", "id")


@dataclass(frozen=True, slots=True)
class ContactFilter:
    search: str | None = None  # substring of name, handle, email or phone, any case
    is_vip: bool | None = None
    network: str | None = None


def _filter_sql(where: ContactFilter, first_param: int) -> tuple[str, list[Any]]:
    """The VIP and network conditions (the search is not among them: see page_contacts)."""
    sql = ""
    params: list[Any] = []
    if where.is_vip is not None:
        params.append(where.is_vip)
        sql += f" AND is_vip = ${first_param + len(params) - 1}"
    if where.network is not None:
        params.append(where.network)
        sql += f" AND network = ${first_param + len(params) - 1}"
    return sql, params


# The ids come from search_contact_ids() (migration 0007), which reads the search index
# past row-level security for this transaction's organisation; the contacts themselves
# are read here, under it.
_SEARCH_PAGE = (
    "SELECT {columns} FROM contacts c{join} WHERE organization_id = $1 AND id = ANY(ARRAY("
    "SELECT search_contact_ids($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)))"
    " ORDER BY name, id"
)
_SEARCH_COUNT = "SELECT count_matching_contacts($1, $2, $3, $4)"


def _bound(key: Key | None) -> Key:
    """A cursor's name and id; two NULLs for none."""
    if key is None:
        return (None, None)
    if len(key) != len(ORDER_KEY):
        raise ValueError("cursor does not match the ordering")
    return key


_C_COLUMNS = ", ".join(f"c.{column.strip()}" for column in COLUMNS.split(","))
_G_COLUMNS = ", ".join(
    f"g.{column} AS g_{column}"
    for column in ("id", "name", "priority", "team_id", "created_at", "updated_at")
)
_N_GROUP = len(_G_COLUMNS.split(","))
_N_CONTACT = len(COLUMNS.split(","))
_N_GROUP_END = _N_CONTACT + _N_GROUP
_N_VALUES_END = _N_GROUP_END + len(CONTACT_VALUES_COLUMNS.split(","))
_contact = builder(Contact)


async def contacts_by_ids_in_full(
    conn: asyncpg.Connection,
    organization_id: int,
    ids: Sequence[int],
    *,
    extra: Sequence[str] = (),
    extra_params: Sequence[Any] = (),
) -> list[tuple[Contact, VipGroup | None, list[AttributeValue], tuple[Any, ...]]]:
    """The contacts among `ids`, each with its VIP group and its attribute values (read in
    the same statement: the panel shows all three), and the values of the `extra`
    expressions over the contact's row (`c`; their parameters `extra_params`, from $3)."""
    columns = "".join(f", {expression}" for expression in extra)
    rows = await conn.fetch(
        f"SELECT {_C_COLUMNS}, {_G_COLUMNS}, {CONTACT_VALUES_COLUMNS}{columns}"
        " FROM contacts c"
        " LEFT JOIN vip_groups g ON g.organization_id = c.organization_id"
        f" AND g.id = c.vip_group_id{CONTACT_VALUES_JOIN}"
        " WHERE c.organization_id = $1 AND c.id = ANY($2::bigint[])",
        organization_id,
        ids,
        *extra_params,
    )
    return [
        (
            _contact(*row[:_N_CONTACT]),
            None
            if row["g_id"] is None
            else VipGroup(organization_id, *row[_N_CONTACT:_N_GROUP_END]),
            contact_values(organization_id, row["id"], *row[_N_GROUP_END:_N_VALUES_END]),
            tuple(row[_N_VALUES_END:]),
        )
        for row in rows
    ]


async def page_contacts(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    where: ContactFilter,
    window: Window,
    values: ValuesRead = ValuesRead.NONE,
) -> list[tuple[Contact, ContactValues | None]]:
    """One window of the organisation's contacts matching `where`, by name then id, each
    with as much of its attribute values as `values` says, read in the same statement.

    A search matches the contacts whose name, handle, email or phone contains the term,
    compared lower-cased by PostgreSQL (Python's lower() differs on some letters: "İ"
    becomes two code points); the term is literal text, LIKE's wildcards included.
    """
    columns = f"{COLUMNS}{values.columns}"
    join = values.join
    if where.search:
        rows = await conn.fetch(
            _SEARCH_PAGE.format(columns=columns, join=join),
            organization_id,
            where.search,
            where.is_vip,
            where.network,
            *_bound(window.after),
            *_bound(window.before),
            window.from_end,
            window.limit,
        )
        return _with_values(organization_id, rows, values)
    filter_sql, filter_params = _filter_sql(where, 2)
    page = page_sql(ORDER_KEY, descending=False, window=window, first_param=2 + len(filter_params))
    rows = await conn.fetch(
        f"SELECT {columns} FROM contacts c{join}"
        f" WHERE organization_id = $1{filter_sql}{page.condition}"
        f" ORDER BY {page.order} LIMIT {page.limit}",
        organization_id,
        *filter_params,
        *page.params,
    )
    return in_order(_with_values(organization_id, rows, values), window)


def _with_values(
    organization_id: int, rows: list[asyncpg.Record], values: ValuesRead
) -> list[tuple[Contact, ContactValues | None]]:
    if values is ValuesRead.NONE:
        return [(contact, None) for contact in instances(Contact, rows)]
    return [
        (_contact(*row[:_N_CONTACT]), values.of(organization_id, row["id"], row[_N_CONTACT:]))
        for row in rows
    ]


async def count_contacts(
    conn: asyncpg.Connection, organization_id: int, *, where: ContactFilter
) -> int:
    if where.search:
        count = await conn.fetchval(
            _SEARCH_COUNT, organization_id, where.search, where.is_vip, where.network
        )
        return int(count)
    filter_sql, filter_params = _filter_sql(where, 2)
    count = await conn.fetchval(
        f"SELECT count(*) FROM contacts WHERE organization_id = $1{filter_sql}",
        organization_id,
        *filter_params,
    )
    return int(count)


# Writes.


async def contact_for_update(
    conn: asyncpg.Connection, organization_id: int, contact_id: int
) -> Contact | None:
    """The contact, locked until the transaction ends so that concurrent changes to it
    queue; None for a miss. (NO KEY: rows that merely reference it are not held up.)"""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM contacts WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE",
        organization_id,
        contact_id,
    )
    return None if row is None else Contact(**row)


async def set_vip(
    conn: asyncpg.Connection,
    organization_id: int,
    contact_id: int,
    *,
    is_vip: bool,
    vip_group_id: int | None,
) -> Contact | None:
    """Sets the contact's VIP status; triggers re-rank and re-route its conversations.
    None for a miss."""
    row = await conn.fetchrow(
        "UPDATE contacts SET is_vip = $3, vip_group_id = $4, updated_at = now()"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}",
        organization_id,
        contact_id,
        is_vip,
        vip_group_id,
    )
    return None if row is None else Contact(**row)


async def touch_contact(
    conn: asyncpg.Connection, organization_id: int, contact_id: int
) -> Contact | None:
    """Marks the contact as changed now (e.g. one of its attribute values); None for a miss."""
    row = await conn.fetchrow(
        "UPDATE contacts SET updated_at = now()"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}",
        organization_id,
        contact_id,
    )
    return None if row is None else Contact(**row)
