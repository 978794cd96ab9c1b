"""Contact notes, conversation notes and their revisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.agents import Agent
from db.keyset import PageSQL, Window, in_order, page_sql
from db.records import builder, instances


@dataclass(frozen=True, slots=True)
class Note:
    organization_id: int
    id: int
    contact_id: int | None
    conversation_id: int | None
    body: str
    author_id: int
    created_at: datetime
    updated_at: datetime
    updated_by: int | None
    version: int
    deleted_at: datetime | None
    deleted_by: int | None


@dataclass(frozen=True, slots=True)
class NoteRevision:
    organization_id: int
    id: int
    note_id: int
    body: str
    edited_at: datetime
    edited_by: int


COLUMNS = (
    "organization_id, id, contact_id, conversation_id, body, author_id, created_at,"
    " updated_at, updated_by, version, deleted_at, deleted_by"
)
REVISION_COLUMNS = "organization_id, id, note_id, body, edited_at, edited_by"
ORDER_KEY = ("created_at", "id")  # newest first
_N_NOTE = len(COLUMNS.split(","))
_note = builder(Note)
_agent = builder(Agent)

# The parent column a list of notes hangs from; never user input.
_PARENTS = ("contact_id", "conversation_id")


async def notes_by_ids(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> list[Note]:
    """Live (not deleted) notes among `ids`."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM notes"
        " WHERE organization_id = $1 AND id = ANY($2::bigint[]) AND deleted_at IS NULL",
        organization_id,
        ids,
    )
    return instances(Note, rows)


_AUTHOR_NAMES = ("id", "name", "email", "avatar_url", "role", "created_at")
_AUTHOR_COLUMNS = ", ".join(f"a.{column} AS a_{column}" for column in _AUTHOR_NAMES)
_AUTHOR_VALUES = ", ".join(f"a.{column}" for column in _AUTHOR_NAMES)


def _window_of(parent: str, parent_id: str, page: PageSQL) -> str:
    """FROM items: the live notes (x) of the parent whose id is the SQL `parent_id` in
    one window, each with its author (a). $1 is the organisation."""
    return (
        f"(SELECT {COLUMNS} FROM notes"
        f"  WHERE organization_id = $1 AND {parent} = {parent_id} AND deleted_at IS NULL"
        f"{page.condition} ORDER BY {page.order} LIMIT {page.limit}) x"
        " JOIN agents a ON a.organization_id = x.organization_id AND a.id = x.author_id"
    )


async def page_notes(
    conn: asyncpg.Connection,
    organization_id: int,
    parent: str,
    parent_ids: Sequence[int],
    *,
    window: Window,
) -> tuple[dict[int, list[Note]], list[Agent]]:
    """One window of the live notes of each parent (`parent` is "contact_id" or
    "conversation_id"), newest first, and their authors (read in the same statement: a
    list of notes always shows who wrote them)."""
    assert parent in _PARENTS
    page = page_sql(ORDER_KEY, descending=True, window=window, first_param=3)
    outer_order = ", ".join(f"x.{item}" for item in page.order.split(", "))
    rows = await conn.fetch(
        f"SELECT x.*, {_AUTHOR_COLUMNS}"
        " FROM unnest($2::bigint[]) WITH ORDINALITY AS p(parent_id, ord)"
        f" CROSS JOIN LATERAL {_window_of(parent, 'p.parent_id', page)}"
        f" ORDER BY p.ord, {outer_order}",
        organization_id,
        parent_ids,
        *page.params,
    )
    found: dict[int, list[Note]] = {}
    authors: dict[int, Agent] = {}
    for row in rows:
        found.setdefault(row[parent], []).append(_note(*row[:_N_NOTE]))
        authors[row["a_id"]] = _agent(organization_id, *row[_N_NOTE:])
    return {k: in_order(v, window) for k, v in found.items()}, list(authors.values())


def notes_of_parent_array(
    parent: str, parent_id: str, window: Window, first_param: int
) -> tuple[str, list[Any]]:
    """For a statement that reads parents, with the organisation as $1: an expression
    whose value is one window of the live notes of the parent whose id is the SQL
    `parent_id`, each with its author, as page_notes reads them; and its parameters,
    numbered from `first_param`. notes_of_array reads the value."""
    assert parent in _PARENTS
    page = page_sql(ORDER_KEY, descending=True, window=window, first_param=first_param)
    outer_order = ", ".join(f"x.{item}" for item in page.order.split(", "))
    expression = (
        f"ARRAY(SELECT ROW(x.*, {_AUTHOR_VALUES})"
        f" FROM {_window_of(parent, parent_id, page)} ORDER BY {outer_order})"
    )
    return expression, page.params


def notes_of_array(
    organization_id: int, rows: Sequence[tuple[Any, ...]], window: Window
) -> tuple[list[Note], list[Agent]]:
    """The notes (in key order) and their authors in a value of notes_of_parent_array."""
    notes = [_note(*row[:_N_NOTE]) for row in rows]
    authors = {row[_N_NOTE]: _agent(organization_id, *row[_N_NOTE:]) for row in rows}
    return in_order(notes, window), list(authors.values())


async def count_notes(
    conn: asyncpg.Connection, organization_id: int, parent: str, parent_ids: Sequence[int]
) -> dict[int, int]:
    assert parent in _PARENTS
    rows = await conn.fetch(
        f"SELECT {parent} AS parent_id, count(*) AS n FROM notes"
        f" WHERE organization_id = $1 AND {parent} = ANY($2::bigint[]) AND deleted_at IS NULL"
        f" GROUP BY {parent}",
        organization_id,
        parent_ids,
    )
    return {row["parent_id"]: row["n"] for row in rows}


async def revisions_by_note_ids(
    conn: asyncpg.Connection, organization_id: int, note_ids: Sequence[int]
) -> list[NoteRevision]:
    """Revisions of the notes, oldest first."""
    rows = await conn.fetch(
        f"SELECT {REVISION_COLUMNS} FROM note_revisions"
        " WHERE organization_id = $1 AND note_id = ANY($2::bigint[]) ORDER BY note_id, id",
        organization_id,
        note_ids,
    )
    return instances(NoteRevision, rows)


# Inserts a note only when its parent exists in the organisation: no row means no parent.
_INSERT = {
    "contact_id": (
        f"INSERT INTO notes (organization_id, contact_id, body, author_id)"
        f" SELECT organization_id, id, $3, $4 FROM contacts"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ),
    "conversation_id": (
        f"INSERT INTO notes (organization_id, conversation_id, body, author_id)"
        f" SELECT organization_id, id, $3, $4 FROM conversations"
        f" WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ),
}


async def insert_note(
    conn: asyncpg.Connection,
    organization_id: int,
    parent: str,
    parent_id: int,
    body: str,
    *,
    author_id: int,
) -> Note | None:
    """A new note on the contact or conversation (`parent` is "contact_id" or
    "conversation_id"), created now; None when the organisation has no such parent."""
    row = await conn.fetchrow(_INSERT[parent], organization_id, parent_id, body, author_id)
    return None if row is None else Note(**row)


async def lock_note(conn: asyncpg.Connection, organization_id: int, note_id: int) -> Note | None:
    """The note, deleted or not, locked against other writers until the transaction ends;
    None if there is none. Under READ COMMITTED the row returned is the latest committed
    version: a writer that held the lock has committed by the time this returns."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM notes WHERE organization_id = $1 AND id = $2 FOR UPDATE",
        organization_id,
        note_id,
    )
    return None if row is None else Note(**row)


async def edit_note(
    conn: asyncpg.Connection,
    organization_id: int,
    note_id: int,
    body: str,
    *,
    previous_body: str,
    editor_id: int,
) -> Note:
    """Replaces the body of a note the caller has locked (see lock_note), bumps its version
    and keeps `previous_body` as a revision made by the editor at the same moment."""
    # clock_timestamp(), not now(): edits of one note are serialised by its row lock, so
    # their timestamps then follow the order of the edits, whenever each transaction began.
    row = await conn.fetchrow(
        f"WITH edited AS ("
        f"  UPDATE notes SET body = $3, version = version + 1, updated_at = clock_timestamp(),"
        f"   updated_by = $4"
        f"  WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}),"
        f" revision AS ("
        f"  INSERT INTO note_revisions (organization_id, note_id, body, edited_at, edited_by)"
        f"  SELECT organization_id, id, $5, updated_at, updated_by FROM edited)"
        f" SELECT {COLUMNS} FROM edited",
        organization_id,
        note_id,
        body,
        editor_id,
        previous_body,
    )
    assert row is not None, "edit_note needs a note locked by lock_note"
    return Note(**row)


async def delete_note(
    conn: asyncpg.Connection, organization_id: int, note_id: int, *, agent_id: int
) -> Note:
    """Marks a live note the caller has locked as deleted (kept, so it can be restored)."""
    row = await conn.fetchrow(
        f"UPDATE notes SET deleted_at = clock_timestamp(), deleted_by = $3"
        f" WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {COLUMNS}",
        organization_id,
        note_id,
        agent_id,
    )
    assert row is not None, "delete_note needs a live note locked by lock_note"
    return Note(**row)


async def restore_note(conn: asyncpg.Connection, organization_id: int, note_id: int) -> Note:
    """Brings back a deleted note the caller has locked, with its body and revisions."""
    row = await conn.fetchrow(
        f"UPDATE notes SET deleted_at = NULL, deleted_by = NULL"
        f" WHERE organization_id = $1 AND id = $2 AND deleted_at IS NOT NULL RETURNING {COLUMNS}",
        organization_id,
        note_id,
    )
    assert row is not None, "restore_note needs a deleted note locked by lock_note"
    return Note(**row)
