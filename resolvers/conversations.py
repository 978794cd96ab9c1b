"""Conversations, the queue, and messages."""

from __future__ import annotations

from datetime import datetime

from db import conversations as conversations_db
from db.attributes import ValuesRead
from db.conversations import Conversation, ConversationFilter, Message
from db.keyset import Window
from resolvers import ids
from resolvers.context import Context
from resolvers.pagination import Ordering, Page, PageArgs, page, window

QUEUE: Ordering[Conversation] = Ordering(
    "conversations.queue",
    (int, datetime, int),
    lambda conversation: (-conversation.priority, conversation.last_message_at, conversation.id),
)
# The conversations list by NEWEST and a contact's conversations.
NEWEST: Ordering[Conversation] = Ordering(
    "conversations.newest",
    (datetime, int),
    lambda conversation: (conversation.last_message_at, conversation.id),
)
MESSAGES: Ordering[Message] = Ordering(
    "messages.sent", (datetime, int), lambda message: (message.sent_at, message.id)
)


async def conversation_by_global_id(ctx: Context, global_id: str) -> Conversation | None:
    pk = ids.decode_as(global_id, "Conversation")
    if pk is None:
        return None
    conversation: Conversation | None = await ctx.loaders.conversation_by_id.load(pk)
    return conversation


def team_filter(global_id: str | None) -> int | None:
    """The team id of a `teamId` argument; an id that is not a team's matches nothing (-1)."""
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, "Team")
    return -1 if pk is None else pk


async def list_conversations(
    ctx: Context,
    args: PageArgs,
    where: ConversationFilter,
    *,
    queue: bool,
    values: ValuesRead = ValuesRead.NONE,
) -> Page[Conversation]:
    """A page of conversations in queue order or newest first; their contacts (with as
    much of their attribute values as `values` says) are read in the same statement and
    primed into their loaders."""
    ordering = QUEUE if queue else NEWEST
    request = window(args, ordering)
    found = await ctx.session.run(
        conversations_db.page_conversations,
        ctx.organization_id,
        where=where,
        queue=queue,
        window=request,
        values=values,
    )
    for conversation, contact, read in found:
        ctx.loaders.conversation_by_id.prime(conversation.id, conversation)
        ctx.loaders.prime_contact(contact, read)
    return page([conversation for conversation, _, _ in found], request, ordering)


async def count_conversations(ctx: Context, where: ConversationFilter) -> int:
    return await ctx.session.run(
        conversations_db.count_conversations, ctx.organization_id, where=where
    )


def contact_conversations_window(args: PageArgs) -> Window:
    """The rows to read for a page of a contact's conversations (raises BadUserInput)."""
    return window(args, NEWEST)


async def conversations_of_contact(
    ctx: Context, contact_id: int, args: PageArgs
) -> Page[Conversation]:
    request = contact_conversations_window(args)
    rows: list[Conversation] = await ctx.loaders.conversations_by_contact_id.load(
        (contact_id, request)
    )
    return page(rows, request, NEWEST)


async def messages_of_conversation(
    ctx: Context, conversation_id: int, args: PageArgs
) -> Page[Message]:
    request = window(args, MESSAGES)
    rows: list[Message] = await ctx.loaders.messages_by_conversation_id.load(
        (conversation_id, request)
    )
    return page(rows, request, MESSAGES)
