"""Conversations and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db import contacts as contacts_db
from db.attributes import ContactValues, ValuesRead
from db.contacts import Contact
from db.keyset import PageSQL, Window, in_order, page_sql
from db.records import builder, instances


@dataclass(frozen=True, slots=True)
class Conversation:
    organization_id: int
    id: int
    contact_id: int
    network: str
    status: str
    subject: str | None
    team_id: int | None
    routed_team_id: int | None
    priority: int
    created_at: datetime
    last_message_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    organization_id: int
    id: int
    conversation_id: int
    direction: str
    author_name: str
    body: str
    sent_at: datetime


COLUMNS = (
    "organization_id, id, contact_id, network, status, subject, team_id, routed_team_id,"
    " priority, created_at, last_message_at"
)
MESSAGE_COLUMNS = "organization_id, id, conversation_id, direction, author_name, body, sent_at"

CONTACT_KEY = ("last_message_at", "id")  # a contact's conversations, descending
MESSAGE_KEY = ("sent_at", "id")  # ascending


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: str | None = None
    team_id: int | None = None  # the team the conversation is routed to


def _filter_sql(where: ConversationFilter, first_param: int) -> tuple[str, list[Any]]:
    sql = ""
    params: list[Any] = []
    if where.status is not None:
        params.append(where.status)
        sql += f" AND v.status = ${first_param + len(params) - 1}"
    if where.team_id is not None:
        params.append(where.team_id)
        sql += f" AND v.routed_team_id = ${first_param + len(params) - 1}"
    return sql, params


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


_V_COLUMNS = _prefixed(COLUMNS, "v")
_C_COLUMNS = _prefixed(contacts_db.COLUMNS, "c")
_N_CONVERSATION = len(COLUMNS.split(","))
_N_CONTACT = len(contacts_db.COLUMNS.split(","))
_conversation = builder(Conversation)
_contact = builder(Contact)


async def conversations_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[Conversation]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM conversations"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return instances(Conversation, rows)


async def page_conversations(
    conn: asyncpg.Connection,
    organization_id: int,
    *,
    where: ConversationFilter,
    queue: bool,
    window: Window,
    values: ValuesRead = ValuesRead.NONE,
) -> list[tuple[Conversation, Contact, ContactValues | None]]:
    """One window of the organisation's conversations in queue order (`queue`) or newest
    first, each with its contact and as much of the contact's attribute values as
    `values` says, read in the same statement."""
    filter_sql, filter_params = _filter_sql(where, 2)
    # QUEUE: VIPs first, higher VIP group priority first, longest waiting first. Negated
    # priority keeps every key ascending, so one row comparison bounds the index scan.
    key = ("(-v.priority)", "v.last_message_at", "v.id") if queue else ("v.last_message_at", "v.id")
    page = page_sql(key, descending=not queue, window=window, first_param=2 + len(filter_params))
    rows = await conn.fetch(
        f"SELECT {_V_COLUMNS}, {_C_COLUMNS}{values.columns} FROM conversations v"
        " JOIN contacts c ON c.organization_id = v.organization_id AND c.id = v.contact_id"
        f"{values.join}"
        f" WHERE v.organization_id = $1{filter_sql}{page.condition}"
        f" ORDER BY {page.order} LIMIT {page.limit}",
        organization_id,
        *filter_params,
        *page.params,
    )
    found = [
        (
            _conversation(*row[:_N_CONVERSATION]),
            _contact(*row[_N_CONVERSATION : _N_CONVERSATION + _N_CONTACT]),
            values.of(organization_id, row["contact_id"], row[_N_CONVERSATION + _N_CONTACT :]),
        )
        for row in rows
    ]
    return in_order(found, window)


async def count_conversations(
    conn: asyncpg.Connection, organization_id: int, *, where: ConversationFilter
) -> int:
    filter_sql, filter_params = _filter_sql(where, 2)
    count = await conn.fetchval(
        f"SELECT count(*) FROM conversations v WHERE v.organization_id = $1{filter_sql}",
        organization_id,
        *filter_params,
    )
    return int(count)


def _window_of(contact_id: str, page: PageSQL) -> str:
    """A FROM item: the conversations (x) of the contact whose id is the SQL `contact_id`
    in one window. $1 is the organisation."""
    return (
        f"(SELECT {COLUMNS} FROM conversations"
        f"  WHERE organization_id = $1 AND contact_id = {contact_id}{page.condition}"
        f"  ORDER BY {page.order} LIMIT {page.limit}) x"
    )


def conversations_of_contact_array(
    contact_id: str, window: Window, first_param: int
) -> tuple[str, list[Any]]:
    """For a statement that reads contacts, with the organisation as $1: an expression
    whose value is one window of the conversations of the contact whose id is the SQL
    `contact_id`, as page_conversations_of_contacts reads them; and its parameters,
    numbered from `first_param`. conversations_of_array reads the value."""
    page = page_sql(CONTACT_KEY, descending=True, window=window, first_param=first_param)
    expression = f"ARRAY(SELECT ROW(x.*) FROM {_window_of(contact_id, page)} ORDER BY {page.order})"
    return expression, page.params


def conversations_of_array(rows: Sequence[tuple[Any, ...]], window: Window) -> list[Conversation]:
    """The conversations, in key order, in a value of conversations_of_contact_array."""
    return in_order([_conversation(*row) for row in rows], window)


async def page_conversations_of_contacts(
    conn: asyncpg.Connection, organization_id: int, contact_ids: Sequence[int], *, window: Window
) -> dict[int, list[Conversation]]:
    """One window of each contact's conversations, newest message first."""
    page = page_sql(CONTACT_KEY, descending=True, window=window, first_param=3)
    rows = await conn.fetch(
        f"SELECT x.* FROM unnest($2::bigint[]) WITH ORDINALITY AS p(parent_id, ord)"
        f" CROSS JOIN LATERAL {_window_of('p.parent_id', page)}"
        f" ORDER BY p.ord, {page.order}",
        organization_id,
        contact_ids,
        *page.params,
    )
    found: dict[int, list[Conversation]] = {}
    for row in rows:
        found.setdefault(row["contact_id"], []).append(Conversation(**row))
    return {k: in_order(v, window) for k, v in found.items()}


async def count_conversations_of_contacts(
    conn: asyncpg.Connection, organization_id: int, contact_ids: Sequence[int]
) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT contact_id, count(*) AS n FROM conversations"
        " WHERE organization_id = $1 AND contact_id = ANY($2::bigint[]) GROUP BY contact_id",
        organization_id,
        contact_ids,
    )
    return {row["contact_id"]: row["n"] for row in rows}


async def messages_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[Message]:
    rows = await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM messages"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[])",
        organization_id,
        ids,
    )
    return instances(Message, rows)


async def page_messages_of_conversations(
    conn: asyncpg.Connection,
    organization_id: int,
    conversation_ids: Sequence[int],
    *,
    window: Window,
) -> dict[int, list[Message]]:
    """One window of each conversation's messages, oldest first."""
    page = page_sql(MESSAGE_KEY, descending=False, window=window, first_param=3)
    rows = await conn.fetch(
        f"SELECT x.* FROM unnest($2::bigint[]) WITH ORDINALITY AS p(parent_id, ord)"
        f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages"
        f"  WHERE organization_id = $1 AND conversation_id = p.parent_id{page.condition}"
        f"  ORDER BY {page.order} LIMIT {page.limit}) x"
        f" ORDER BY p.ord, {page.order}",
        organization_id,
        conversation_ids,
        *page.params,
    )
    found: dict[int, list[Message]] = {}
    for row in rows:
        found.setdefault(row["conversation_id"], []).append(Message(**row))
    return {k: in_order(v, window) for k, v in found.items()}


async def count_messages_of_conversations(
    conn: asyncpg.Connection, organization_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT conversation_id, count(*) AS n FROM messages"
        " WHERE organization_id = $1 AND conversation_id = ANY($2::bigint[])"
        " GROUP BY conversation_id",
        organization_id,
        conversation_ids,
    )
    return {row["conversation_id"]: row["n"] for row in rows}


async def last_messages_of_conversations(
    conn: asyncpg.Connection, organization_id: int, conversation_ids: Sequence[int]
) -> list[Message]:
    """The newest message of each conversation that has one."""
    rows = await conn.fetch(
        f"SELECT x.* FROM unnest($2::bigint[]) AS p(parent_id)"
        f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages"
        "  WHERE organization_id = $1 AND conversation_id = p.parent_id"
        "  ORDER BY sent_at DESC, id DESC LIMIT 1) x",
        organization_id,
        conversation_ids,
    )
    return instances(Message, rows)
