"""Contact notes and conversation notes: reading them, and the rules of writing them.

Any agent of the organisation may edit, delete and restore any note. A body is stored
exactly as sent (leading and trailing whitespace included); it must not be blank after
trimming and has at most 2,000 characters as a person counts them — grapheme clusters, so
an emoji is one — and at most 16,000 code points (see resolvers/text.py).
Edits of one note are serialised by a row lock, so none is lost under READ COMMITTED:
each keeps the body it replaced as a revision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from db import notes as notes_db
from db.keyset import Window
from db.notes import Note
from resolvers import ids
from resolvers.context import Context
from resolvers.errors import Problems, Rejected, UserError, UserErrorCode
from resolvers.mutations import write
from resolvers.pagination import Ordering, Page, PageArgs, page, window
from resolvers.text import check_text, graphemes

# A contact's notes and a conversation's notes.
NEWEST: Ordering[Note] = Ordering(
    "notes.newest", (datetime, int), lambda note: (note.created_at, note.id)
)


async def note_by_global_id(ctx: Context, global_id: str) -> Note | None:
    pk = ids.decode_as(global_id, "Note")
    if pk is None:
        return None
    note: Note | None = await ctx.loaders.note_by_id.load(pk)
    return note


def contact_notes_window(args: PageArgs) -> Window:
    """The rows to read for a page of a contact's notes (raises BadUserInput)."""
    return window(args, NEWEST)


async def notes_of_contact(ctx: Context, contact_id: int, args: PageArgs) -> Page[Note]:
    """A page of the contact's live notes, newest first."""
    request = contact_notes_window(args)
    rows: list[Note] = await ctx.loaders.notes_by_contact_id.load((contact_id, request))
    return page(rows, request, NEWEST)


async def notes_of_conversation(ctx: Context, conversation_id: int, args: PageArgs) -> Page[Note]:
    """A page of the conversation's live notes, newest first."""
    request = window(args, NEWEST)
    rows: list[Note] = await ctx.loaders.notes_by_conversation_id.load((conversation_id, request))
    return page(rows, request, NEWEST)


MAX_BODY = 2000
# No 2,000 characters a person writes come near this; it bounds what a grapheme cluster
# may hide (combining marks stack without limit) and is what the database also checks.
MAX_BODY_CODE_POINTS = 16_000

BODY = ["input", "body"]
NOTE_ID = ["input", "noteId"]
EXPECTED_VERSION = ["input", "expectedVersion"]

# One message per kind of id, whatever made it unknown: malformed, another type, missing
# or another organisation's — so an answer tells nothing about other organisations.
_NO_SUCH = {
    "Contact": "No contact with this id",
    "Conversation": "No conversation with this id",
    "Note": "No note with this id",
}


@dataclass(frozen=True, slots=True)
class NoteOutcome:
    """What a note mutation did: the note as it now is (or, on a version conflict, as it
    is in the database) and the user errors; no errors means the mutation took effect."""

    note: Note | None = None
    errors: list[UserError] = field(default_factory=list)


def _not_found(path: list[str], type_name: str) -> UserError:
    return UserError(path, _NO_SUCH[type_name], UserErrorCode.NOT_FOUND)


def _primary_key(problems: Problems, path: list[str], global_id: str, type_name: str) -> int | None:
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        problems.errors.append(_not_found(path, type_name))
    return pk


def _check_body(problems: Problems, body: str) -> None:
    check_text(
        problems,
        BODY,
        body,
        max_length=MAX_BODY,
        label="Body",
        count=graphemes,
        max_code_points=MAX_BODY_CODE_POINTS,
    )


def _blank_in_database() -> Rejected:
    # The database's own whitespace rule may be wider than Python's in some locales;
    # its refusal is then the same user error, not a failure.
    return Rejected(UserError(BODY, "Body must not be blank", UserErrorCode.BLANK))


def _forget(ctx: Context, note: Note) -> None:
    """Makes the request's loaders answer with `note` as it now is: fields resolved after
    a mutation (the payload, later mutations of the same operation) must not see the
    rows loaded before it."""
    loaders = ctx.loaders
    loaders.note_by_id.clear(note.id)
    loaders.note_by_id.prime(note.id, note if note.deleted_at is None else None)
    loaders.revisions_by_note_id.clear(note.id)
    if note.contact_id is not None:
        loaders.notes_by_contact_id.clear_all()
        loaders.note_count_by_contact_id.clear(note.contact_id)
    if note.conversation_id is not None:
        loaders.notes_by_conversation_id.clear_all()
        loaders.note_count_by_conversation_id.clear(note.conversation_id)


async def _add_note(
    ctx: Context, parent: str, type_name: str, path: list[str], parent_id: str, body: str
) -> NoteOutcome:
    problems = Problems()
    pk = _primary_key(problems, path, parent_id, type_name)
    _check_body(problems, body)
    if problems.errors or pk is None:
        return NoteOutcome(errors=problems.errors)

    async def work(conn: asyncpg.Connection) -> Note:
        try:
            note = await notes_db.insert_note(
                conn, ctx.organization_id, parent, pk, body, author_id=ctx.agent.id
            )
        except asyncpg.CheckViolationError:
            raise _blank_in_database() from None
        if note is None:
            raise Rejected(_not_found(path, type_name))
        return note

    return _outcome(ctx, await write(ctx, work))


async def add_contact_note(ctx: Context, contact_id: str, body: str) -> NoteOutcome:
    """A new note on the contact by the calling agent. User errors: NOT_FOUND (contact),
    INVALID_VALUE, BLANK, TOO_LONG (body)."""
    return await _add_note(ctx, "contact_id", "Contact", ["input", "contactId"], contact_id, body)


async def add_conversation_note(ctx: Context, conversation_id: str, body: str) -> NoteOutcome:
    """A new note on the conversation by the calling agent. User errors: NOT_FOUND
    (conversation), INVALID_VALUE, BLANK, TOO_LONG (body)."""
    return await _add_note(
        ctx, "conversation_id", "Conversation", ["input", "conversationId"], conversation_id, body
    )


async def update_note(
    ctx: Context, note_id: str, body: str, expected_version: int | None
) -> NoteOutcome:
    """Replaces the note's body, keeping the old one as a revision; the same body again
    changes nothing. With `expected_version`, a note at another version is left alone:
    VERSION_CONFLICT, with the note as it is. Other user errors: NOT_FOUND, INVALID_VALUE
    (a deleted note, or a body with NUL or lone surrogates), BLANK, TOO_LONG."""
    problems = Problems()
    pk = _primary_key(problems, NOTE_ID, note_id, "Note")
    _check_body(problems, body)
    if expected_version is not None and expected_version < 1:
        problems.add(EXPECTED_VERSION, UserErrorCode.INVALID_VALUE, "Versions start at 1")
    if problems.errors or pk is None:
        return NoteOutcome(errors=problems.errors)
    current: Note | None = None

    async def work(conn: asyncpg.Connection) -> Note:
        nonlocal current
        note = await _lock_note(conn, ctx, pk)
        if note.deleted_at is not None:
            raise Rejected(
                UserError(
                    NOTE_ID,
                    "The note is deleted; restore it before editing it",
                    UserErrorCode.INVALID_VALUE,
                )
            )
        if expected_version is not None and expected_version != note.version:
            current = note
            raise Rejected(
                UserError(
                    EXPECTED_VERSION,
                    f"The note is at version {note.version}, not {expected_version}: someone "
                    f"else edited it; nothing was changed",
                    UserErrorCode.VERSION_CONFLICT,
                )
            )
        if body == note.body:
            return note
        try:
            return await notes_db.edit_note(
                conn, ctx.organization_id, pk, body, previous_body=note.body, editor_id=ctx.agent.id
            )
        except asyncpg.CheckViolationError:
            raise _blank_in_database() from None

    result = await write(ctx, work)
    if isinstance(result, list) and current is not None:
        _forget(ctx, current)
        return NoteOutcome(current, result)
    return _outcome(ctx, result)


async def delete_note(ctx: Context, note_id: str) -> NoteOutcome:
    """Deletes a live note; it is kept, with its revisions, for restore_note. Returns the
    deleted note. User errors: NOT_FOUND, INVALID_VALUE (already deleted)."""
    return await _toggle(
        ctx,
        note_id,
        refuse_when_deleted=True,
        refusal="The note is already deleted",
        change=lambda conn, pk: notes_db.delete_note(
            conn, ctx.organization_id, pk, agent_id=ctx.agent.id
        ),
    )


async def restore_note(ctx: Context, note_id: str) -> NoteOutcome:
    """Brings a deleted note back as it was, revisions included. User errors: NOT_FOUND,
    INVALID_VALUE (the note is not deleted)."""
    return await _toggle(
        ctx,
        note_id,
        refuse_when_deleted=False,
        refusal="The note is not deleted",
        change=lambda conn, pk: notes_db.restore_note(conn, ctx.organization_id, pk),
    )


async def _toggle(
    ctx: Context,
    note_id: str,
    *,
    refuse_when_deleted: bool,
    refusal: str,
    change: Callable[[asyncpg.Connection, int], Awaitable[Note]],
) -> NoteOutcome:
    problems = Problems()
    pk = _primary_key(problems, NOTE_ID, note_id, "Note")
    if problems.errors or pk is None:
        return NoteOutcome(errors=problems.errors)

    async def work(conn: asyncpg.Connection) -> Note:
        note = await _lock_note(conn, ctx, pk)
        if (note.deleted_at is not None) == refuse_when_deleted:
            raise Rejected(UserError(NOTE_ID, refusal, UserErrorCode.INVALID_VALUE))
        return await change(conn, pk)

    return _outcome(ctx, await write(ctx, work))


async def _lock_note(conn: asyncpg.Connection, ctx: Context, pk: int) -> Note:
    note = await notes_db.lock_note(conn, ctx.organization_id, pk)
    if note is None:
        raise Rejected(_not_found(NOTE_ID, "Note"))
    return note


def _outcome(ctx: Context, result: Note | list[UserError]) -> NoteOutcome:
    if isinstance(result, list):
        return NoteOutcome(errors=result)
    _forget(ctx, result)
    return NoteOutcome(result)
