"""The Query root."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.contacts import ContactFilter
from db.conversations import ConversationFilter
from resolvers import contacts, conversations, nodes
from resolvers.pagination import PageArgs
from schema.agents import Agent, Team, VipGroup
from schema.attributes import AttributeDefinition
from schema.base import After, Before, Connection, First, Info, Last, Node, connection
from schema.contacts import Contact, attribute_values_read
from schema.conversations import Conversation, Message
from schema.enums import ConversationOrder, ConversationStatus, SocialNetwork
from schema.lookahead import page_arguments
from schema.notes import Note

_NODE_TYPES: dict[str, Any] = {
    "Contact": Contact,
    "Note": Note,
    "Conversation": Conversation,
    "Message": Message,
    "Agent": Agent,
    "VipGroup": VipGroup,
    "Team": Team,
    "AttributeDefinition": AttributeDefinition,
}


AnyId = Annotated[strawberry.ID, strawberry.argument(description="A global id of any type.")]


def _node(found: tuple[str, Any] | None) -> Node | None:
    if found is None:
        return None
    type_name, row = found
    node: Node = _NODE_TYPES[type_name].of(row)
    return node


@strawberry.type(description="Everything an agent can read, within their organisation.")
class Query:
    @strawberry.field(description="The authenticated agent.")
    def viewer(self, info: Info) -> Agent:
        return Agent.of(info.context.agent)

    @strawberry.field(
        description="Any object by global id; null for an unknown id or one of another "
        "organisation."
    )
    async def node(self, info: Info, id: AnyId) -> Node | None:
        return _node(await nodes.load(info.context, id))

    @strawberry.field(
        description="Objects by global ids (at most 100), in order, null for each unknown one."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global ids of any types.")
        ],
    ) -> list[Node | None]:
        return [_node(found) for found in await nodes.load_many(info.context, list(ids))]

    @strawberry.field(description="A contact by id; null if there is none.")
    async def contact(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The contact's id.")],
    ) -> Contact | None:
        # The panel's notes and conversations come in the contact's statement.
        contacts.read_pages_with_contacts(
            info.context,
            notes=page_arguments(info, "notes"),
            conversations=page_arguments(info, "conversations"),
        )
        row = await contacts.contact_by_global_id(info.context, id)
        return None if row is None else Contact.of(row)

    @strawberry.field(description="Contacts by name, optionally filtered.")
    async def contacts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Matches name, handle, email and phone, case-insensitively, "
                "anywhere in the text (at most 100 characters; taken literally, % and _ "
                "included). Any length works; a term without three letters or digits in a "
                "row (one or two characters, say) is looked for by reading the list in "
                "order, which takes longer on a large list when few contacts match it."
            ),
        ] = None,
        is_vip: Annotated[
            bool | None, strawberry.argument(description="Only VIPs (true) or non-VIPs (false).")
        ] = None,
        network: Annotated[
            SocialNetwork | None, strawberry.argument(description="Only contacts of this network.")
        ] = None,
    ) -> Connection[Contact]:
        ctx = info.context
        where = ContactFilter(search, is_vip, None if network is None else network.name)
        found, where = await contacts.list_contacts(
            ctx,
            PageArgs(first, after, last, before),
            where,
            values=attribute_values_read(info, ("nodes",), ("edges", "node")),
        )
        return connection(found, Contact.of, lambda: contacts.count_contacts(ctx, where))

    @strawberry.field(description="A conversation by id; null if there is none.")
    async def conversation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The conversation's id.")],
    ) -> Conversation | None:
        row = await conversations.conversation_by_global_id(info.context, id)
        return None if row is None else Conversation.of(row)

    @strawberry.field(description="Conversations in queue order (default) or newest first.")
    async def conversations(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[
            ConversationStatus | None,
            strawberry.argument(description="Only conversations in this status."),
        ] = None,
        team_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only conversations routed to this team (a VIP group's team "
                "receives its VIPs' conversations)."
            ),
        ] = None,
        order_by: Annotated[
            ConversationOrder, strawberry.argument(description="The order.")
        ] = ConversationOrder.QUEUE,
    ) -> Connection[Conversation]:
        ctx = info.context
        where = ConversationFilter(
            None if status is None else status.name, conversations.team_filter(team_id)
        )
        queue = order_by is ConversationOrder.QUEUE
        found = await conversations.list_conversations(
            ctx,
            PageArgs(first, after, last, before),
            where,
            queue=queue,
            values=attribute_values_read(info, ("nodes", "contact"), ("edges", "node", "contact")),
        )
        return connection(
            found, Conversation.of, lambda: conversations.count_conversations(ctx, where)
        )

    @strawberry.field(description="Attribute definitions in position order.")
    async def attribute_definitions(
        self,
        info: Info,
        include_archived: Annotated[
            bool, strawberry.argument(description="Include archived definitions.")
        ] = False,
    ) -> list[AttributeDefinition]:
        ctx = info.context
        rows = await ctx.loaders.attribute_definitions_by_organization.load(ctx.organization_id)
        return [AttributeDefinition.of(row) for row in rows if include_archived or not row.archived]

    @strawberry.field(description="VIP groups, highest priority first.")
    async def vip_groups(self, info: Info) -> list[VipGroup]:
        ctx = info.context
        rows = await ctx.loaders.vip_groups_by_organization.load(ctx.organization_id)
        return [VipGroup.of(row) for row in rows]

    @strawberry.field(description="Teams, by name.")
    async def teams(self, info: Info) -> list[Team]:
        ctx = info.context
        rows = await ctx.loaders.teams_by_organization.load(ctx.organization_id)
        return [Team.of(row) for row in rows]
