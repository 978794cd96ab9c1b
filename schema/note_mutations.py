"""Mutations of notes: add, edit, delete and restore. Each payload carries the objects it
changed, with their ids, so a normalized client cache updates without a refetch."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import ids
from resolvers import notes as notes_resolvers
from resolvers.notes import NoteOutcome
from schema.base import Info, UserError, user_errors
from schema.contacts import Contact, load_contact
from schema.conversations import Conversation, load_conversation
from schema.notes import Note

_BODY = (
    "The text, stored exactly as sent: not blank after trimming (BLANK), at most "
    f"{notes_resolvers.MAX_BODY:,} characters as a person counts them (grapheme clusters: an "
    f"emoji is one) and {notes_resolvers.MAX_BODY_CODE_POINTS:,} code points (TOO_LONG), no NUL "
    "or lone surrogate (INVALID_VALUE)."
)
_USER_ERRORS = "Why nothing was changed; empty on success."


def _note(outcome: NoteOutcome) -> Note | None:
    return None if outcome.note is None else Note.of(outcome.note)


@strawberry.input(description="A note to add to a contact.")
class AddContactNoteInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact to write about.")
    body: str = strawberry.field(description=_BODY)


@strawberry.type(description="The result of addContactNote.")
class AddContactNotePayload:
    note: Note | None = strawberry.field(description="The new note; null on failure.")
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)
    contact_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The contact the note was added to (its notes now include it); null on failure."
    )
    async def contact(self, info: Info) -> Contact | None:
        return await load_contact(info, self.contact_id)


@strawberry.input(description="A note to add to a conversation.")
class AddConversationNoteInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    body: str = strawberry.field(description=_BODY)


@strawberry.type(description="The result of addConversationNote.")
class AddConversationNotePayload:
    note: Note | None = strawberry.field(description="The new note; null on failure.")
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)
    conversation_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The conversation the note was added to (its notes now include it); "
        "null on failure."
    )
    async def conversation(self, info: Info) -> Conversation | None:
        return await load_conversation(info, self.conversation_id)


@strawberry.input(description="A new body for a note.")
class UpdateNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note to edit.")
    body: str = strawberry.field(description=_BODY)
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version the edit is based on (the note's `version` when it was "
        "read). When the note is at another version nothing changes and the error is "
        "VERSION_CONFLICT. Omitted: the last write wins (the overwritten body is still "
        "kept as a revision).",
    )


@strawberry.type(description="The result of updateNote.")
class UpdateNotePayload:
    note: Note | None = strawberry.field(
        description="The note after the edit (unchanged when the body was the same); on "
        "VERSION_CONFLICT the note as it currently is, to merge with; null otherwise on "
        "failure."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.input(description="A note to delete.")
class DeleteNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The note to delete.")


@strawberry.type(description="The result of deleteNote.")
class DeleteNotePayload:
    deleted_note_id: strawberry.ID | None = strawberry.field(
        description="The id of the deleted note (to evict from a client cache); null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)
    contact_id: strawberry.Private[int | None]
    conversation_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The contact whose note was deleted (its notes no longer include it); "
        "null for a conversation note or on failure."
    )
    async def contact(self, info: Info) -> Contact | None:
        return await load_contact(info, self.contact_id)

    @strawberry.field(
        description="The conversation whose note was deleted (its notes no longer include "
        "it); null for a contact note or on failure."
    )
    async def conversation(self, info: Info) -> Conversation | None:
        return await load_conversation(info, self.conversation_id)


@strawberry.input(description="A deleted note to bring back.")
class RestoreNoteInput:
    note_id: strawberry.ID = strawberry.field(description="The deleted note.")


@strawberry.type(description="The result of restoreNote.")
class RestoreNotePayload:
    note: Note | None = strawberry.field(
        description="The restored note, with its body, version and revisions as before the "
        "delete; null on failure."
    )
    user_errors: list[UserError] = strawberry.field(description=_USER_ERRORS)


@strawberry.type(description="Mutations of contact and conversation notes.")
class NoteMutations:
    @strawberry.mutation(
        description="Adds a note to a contact, written by the calling agent now. User errors: "
        "NOT_FOUND (no such contact in the organisation), BLANK, TOO_LONG, INVALID_VALUE."
    )
    async def add_contact_note(
        self,
        info: Info,
        input: Annotated[
            AddContactNoteInput, strawberry.argument(description="The contact and the text.")
        ],
    ) -> AddContactNotePayload:
        outcome = await notes_resolvers.add_contact_note(info.context, input.contact_id, input.body)
        return AddContactNotePayload(
            note=_note(outcome),
            user_errors=user_errors(outcome.errors),
            contact_id=None if outcome.note is None else outcome.note.contact_id,
        )

    @strawberry.mutation(
        description="Adds a note to a conversation, written by the calling agent now. User "
        "errors: NOT_FOUND (no such conversation in the organisation), BLANK, TOO_LONG, "
        "INVALID_VALUE."
    )
    async def add_conversation_note(
        self,
        info: Info,
        input: Annotated[
            AddConversationNoteInput,
            strawberry.argument(description="The conversation and the text."),
        ],
    ) -> AddConversationNotePayload:
        outcome = await notes_resolvers.add_conversation_note(
            info.context, input.conversation_id, input.body
        )
        return AddConversationNotePayload(
            note=_note(outcome),
            user_errors=user_errors(outcome.errors),
            conversation_id=None if outcome.note is None else outcome.note.conversation_id,
        )

    @strawberry.mutation(
        description="Edits a note; any agent may edit any note. The previous body is kept as "
        "a revision, `version` goes up by one and `updatedBy` is the caller; the same body "
        "again changes nothing. User errors: VERSION_CONFLICT (`expectedVersion` is stale; "
        "the message gives the current version), NOT_FOUND, INVALID_VALUE (a deleted note — "
        "restore it first —, a version below 1, or unstorable characters), BLANK, TOO_LONG."
    )
    async def update_note(
        self,
        info: Info,
        input: Annotated[
            UpdateNoteInput,
            strawberry.argument(description="The note, its new body and the version it edits."),
        ],
    ) -> UpdateNotePayload:
        outcome = await notes_resolvers.update_note(
            info.context, input.note_id, input.body, input.expected_version
        )
        return UpdateNotePayload(note=_note(outcome), user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Deletes a note; any agent may delete any note. It leaves every list and "
        "`node`, but is kept with its revisions so that restoreNote can bring it back. User "
        "errors: NOT_FOUND, INVALID_VALUE (the note is already deleted)."
    )
    async def delete_note(
        self,
        info: Info,
        input: Annotated[DeleteNoteInput, strawberry.argument(description="The note.")],
    ) -> DeleteNotePayload:
        outcome = await notes_resolvers.delete_note(info.context, input.note_id)
        deleted = outcome.note
        return DeleteNotePayload(
            deleted_note_id=None
            if deleted is None
            else strawberry.ID(ids.encode("Note", deleted.id)),
            user_errors=user_errors(outcome.errors),
            contact_id=None if deleted is None else deleted.contact_id,
            conversation_id=None if deleted is None else deleted.conversation_id,
        )

    @strawberry.mutation(
        description="Brings back a deleted note with its revisions; any agent of the "
        "organisation may. User errors: NOT_FOUND, INVALID_VALUE (the note is not deleted)."
    )
    async def restore_note(
        self,
        info: Info,
        input: Annotated[RestoreNoteInput, strawberry.argument(description="The note.")],
    ) -> RestoreNotePayload:
        outcome = await notes_resolvers.restore_note(info.context, input.note_id)
        return RestoreNotePayload(note=_note(outcome), user_errors=user_errors(outcome.errors))
