"""Contact notes and conversation notes."""

from __future__ import annotations

from datetime import datetime

from db.keyset import Key
from db.notes import Note
from resolvers import ids
from resolvers.context import Context
from resolvers.pagination import Page, PageArgs, page, window

KEY_TYPES = (datetime, int)


def cursor_key(note: Note) -> Key:
    return (note.created_at, note.id)


async def note_by_global_id(ctx: Context, global_id: str) -> Note | None:
    pk = ids.decode_as(global_id, "Note")
    if pk is None:
        return None
    note: Note | None = await ctx.loaders.note_by_id.load(pk)
    return note


async def notes_of_contact(ctx: Context, contact_id: int, args: PageArgs) -> Page[Note]:
    """A page of the contact's live notes, newest first."""
    request = window(args, KEY_TYPES)
    rows: list[Note] = await ctx.loaders.notes_by_contact_id.load((contact_id, request))
    return page(rows, request)


async def notes_of_conversation(ctx: Context, conversation_id: int, args: PageArgs) -> Page[Note]:
    """A page of the conversation's live notes, newest first."""
    request = window(args, KEY_TYPES)
    rows: list[Note] = await ctx.loaders.notes_by_conversation_id.load((conversation_id, request))
    return page(rows, request)
