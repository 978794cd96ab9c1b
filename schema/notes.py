"""Notes on contacts and on conversations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import notes as notes_db
from resolvers import ids
from schema.agents import Agent, load_agent
from schema.base import Info, Node, schema_module

if TYPE_CHECKING:
    from schema.contacts import Contact
    from schema.conversations import Conversation


@strawberry.type(description="An earlier body of a note, kept when the note was edited.")
class NoteRevision:
    body: str = strawberry.field(description="The body before the edit.")
    edited_at: datetime = strawberry.field(description="When the edit replaced this body.")
    edited_by_id: strawberry.Private[int]

    @strawberry.field(description="The agent whose edit replaced this body.")
    async def edited_by(self, info: Info) -> Agent:
        agent = await load_agent(info, self.edited_by_id)
        assert agent is not None  # a foreign key guarantees it
        return agent

    @classmethod
    def of(cls, row: notes_db.NoteRevision) -> NoteRevision:
        return cls(body=row.body, edited_at=row.edited_at, edited_by_id=row.edited_by)


@strawberry.type(
    description="A note agents share: on a contact (the Notes tab) or on one conversation. "
    "Any agent may edit or delete any note."
)
class Note(Node):
    body: str = strawberry.field(description="The text, exactly as written (≤ 2,000 characters).")
    created_at: datetime = strawberry.field(description="When the note was written.")
    updated_at: datetime = strawberry.field(description="When the note was last edited.")
    version: int = strawberry.field(
        description="Starts at 1, +1 per edit; pass as `expectedVersion` to edit safely."
    )
    row: strawberry.Private[notes_db.Note]

    @strawberry.field(description="The agent who wrote the note.")
    async def author(self, info: Info) -> Agent:
        agent = await load_agent(info, self.row.author_id)
        assert agent is not None  # a foreign key guarantees it
        return agent

    @strawberry.field(description="The agent who last edited the note; null if never edited.")
    async def updated_by(self, info: Info) -> Agent | None:
        return await load_agent(info, self.row.updated_by)

    @strawberry.field(description="The contact of a contact note; null on a conversation note.")
    async def contact(
        self, info: Info
    ) -> Annotated[Contact, strawberry.lazy("schema.contacts")] | None:
        found: Contact | None = await schema_module("contacts").load_contact(
            info, self.row.contact_id
        )
        return found

    @strawberry.field(
        description="The conversation of a conversation note; null on a contact note."
    )
    async def conversation(
        self, info: Info
    ) -> Annotated[Conversation, strawberry.lazy("schema.conversations")] | None:
        found: Conversation | None = await schema_module("conversations").load_conversation(
            info, self.row.conversation_id
        )
        return found

    @strawberry.field(description="Earlier bodies of the note, oldest first.")
    async def revisions(self, info: Info) -> list[NoteRevision]:
        rows = await info.context.loaders.revisions_by_note_id.load(self.row.id)
        return [NoteRevision.of(row) for row in rows]

    @classmethod
    def of(cls, row: notes_db.Note) -> Note:
        return cls(
            id=strawberry.ID(ids.encode("Note", row.id)),
            body=row.body,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            row=row,
        )
