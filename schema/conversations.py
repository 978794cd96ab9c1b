"""Conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import conversations as conversations_db
from resolvers import conversations, ids
from resolvers import notes as notes_resolvers
from resolvers.contacts import profile_url
from resolvers.pagination import PageArgs
from schema.agents import Team, load_team
from schema.base import (
    After,
    Before,
    Connection,
    First,
    Info,
    Last,
    Node,
    connection,
    schema_module,
)
from schema.enums import (
    CONVERSATION_STATUSES,
    SOCIAL_NETWORKS,
    ConversationStatus,
    MessageDirection,
    SocialNetwork,
)
from schema.notes import Note

if TYPE_CHECKING:
    from schema.contacts import Contact


@strawberry.type(description="One message of a conversation.")
class Message(Node):
    body: str = strawberry.field(description="The text.")
    direction: MessageDirection = strawberry.field(description="Who sent it.")
    sent_at: datetime = strawberry.field(description="When it was sent.")
    author_name: str = strawberry.field(description="The sender's display name.")
    row: strawberry.Private[conversations_db.Message]

    @strawberry.field(
        description="The contact's profile on their network, on INBOUND messages; null on "
        "OUTBOUND ones."
    )
    async def author_profile_url(self, info: Info) -> str | None:
        if self.row.direction != "INBOUND":
            return None
        conversation = await info.context.loaders.conversation_by_id.load(self.row.conversation_id)
        contact = await info.context.loaders.contact_by_id.load(conversation.contact_id)
        return profile_url(contact.network, contact.handle)

    @strawberry.field(description="The conversation the message belongs to.")
    async def conversation(self, info: Info) -> Conversation:
        found = await load_conversation(info, self.row.conversation_id)
        assert found is not None  # a foreign key guarantees it
        return found

    @classmethod
    def of(cls, row: conversations_db.Message) -> Message:
        return cls(
            id=strawberry.ID(ids.encode("Message", row.id)),
            body=row.body,
            direction=MessageDirection(row.direction),
            sent_at=row.sent_at,
            author_name=row.author_name,
            row=row,
        )


@strawberry.type(description="A thread of messages between a contact and the organisation.")
class Conversation(Node):
    network: SocialNetwork = strawberry.field(description="Where the conversation happens.")
    status: ConversationStatus = strawberry.field(description="Where it stands.")
    subject: str | None = strawberry.field(description="A subject line, if the network has one.")
    priority: int = strawberry.field(
        description="Queue priority: 0 for non-VIP contacts, 1 + the VIP group's priority for "
        "VIPs (1 without a group)."
    )
    created_at: datetime = strawberry.field(description="When the conversation started.")
    last_message_at: datetime = strawberry.field(description="When the last message came.")
    row: strawberry.Private[conversations_db.Conversation]

    @strawberry.field(description="The customer.")
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("schema.contacts")]:
        found: Contact | None = await schema_module("contacts").load_contact(
            info, self.row.contact_id
        )
        assert found is not None  # a foreign key guarantees it
        return found

    @strawberry.field(
        description="The team handling it: the contact's VIP group's team if it has one, "
        "else the assigned team."
    )
    async def team(self, info: Info) -> Team | None:
        return await load_team(info, self.row.routed_team_id)

    @strawberry.field(description="The most recent message, if any.")
    async def last_message(self, info: Info) -> Message | None:
        row = await info.context.loaders.last_message_by_conversation_id.load(self.row.id)
        return None if row is None else Message.of(row)

    @strawberry.field(description="The messages, oldest first.")
    async def messages(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Message]:
        ctx = info.context
        args = PageArgs(first, after, last, before)
        found = await conversations.messages_of_conversation(ctx, self.row.id, args)
        return connection(
            found,
            Message.of,
            lambda: ctx.loaders.message_count_by_conversation_id.load(self.row.id),
        )

    @strawberry.field(description="Notes on this conversation, newest first.")
    async def notes(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Note]:
        ctx = info.context
        args = PageArgs(first, after, last, before)
        found = await notes_resolvers.notes_of_conversation(ctx, self.row.id, args)
        return connection(
            found,
            Note.of,
            lambda: ctx.loaders.note_count_by_conversation_id.load(self.row.id),
        )

    @classmethod
    def of(cls, row: conversations_db.Conversation) -> Conversation:
        return cls(
            id=strawberry.ID(ids.encode("Conversation", row.id)),
            network=SOCIAL_NETWORKS[row.network],
            status=CONVERSATION_STATUSES[row.status],
            subject=row.subject,
            priority=row.priority,
            created_at=row.created_at,
            last_message_at=row.last_message_at,
            row=row,
        )


async def load_conversation(info: Info, conversation_id: int | None) -> Conversation | None:
    if conversation_id is None:
        return None
    row = await info.context.loaders.conversation_by_id.load(conversation_id)
    return None if row is None else Conversation.of(row)
