"""The contact: who the customer is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db import contacts as contacts_db
from db.attributes import ValuesRead
from resolvers import contacts, conversations, ids
from resolvers import notes as notes_resolvers
from resolvers.pagination import PageArgs
from schema.agents import VipGroup, load_vip_group
from schema.attributes import Attribute
from schema.base import After, Before, Connection, First, Info, Last, Node, connection
from schema.conversations import Conversation
from schema.enums import (
    SOCIAL_NETWORKS,
    VALIDATION_STATUSES,
    AttributeKind,
    SocialNetwork,
    ValidationStatus,
)
from schema.lookahead import selects
from schema.notes import Note

# Context.memo: the attributes of contacts without values, by definitions (Attribute.all_of).
_UNSET_ATTRIBUTES = "schema.contacts.unset_attributes"
# Context.memo: whether a selection of `attributes` shows history, by its field nodes' ids.
_SHOWS_HISTORY = "schema.contacts.shows_history"

# The fields of Attribute that show a value's history, which AttributeTexts lack.
_HISTORY = (("updatedAt",), ("updatedBy",))


def attribute_values_read(info: Info, *paths: tuple[str, ...]) -> ValuesRead:
    """What a page of contacts should read of their attribute values with them, for the
    selection of the field `info` resolves, where `paths` lead to the contacts: the
    values with their history if a selection of their `attributes` shows it, the values
    alone if `attributes` is selected without it, else nothing."""
    listings = [(*path, "attributes") for path in paths]
    if not selects(info, *listings):
        return ValuesRead.NONE
    if selects(info, *((*listing, *field) for listing in listings for field in _HISTORY)):
        return ValuesRead.FULL
    return ValuesRead.TEXTS


def _shows_history(info: Info) -> bool:
    """Whether the selection of the `attributes` field being resolved shows a value's
    history. Known once per request for each place `attributes` is selected in the
    document (a queue page asks fifty times)."""
    known: dict[tuple[int, ...], bool] = info.context.memo.setdefault(_SHOWS_HISTORY, {})
    # The nodes belong to the request's document, so their ids are not reused meanwhile.
    key = tuple(map(id, info._raw_info.field_nodes))
    shown = known.get(key)
    if shown is None:
        shown = known[key] = selects(info, *_HISTORY)
    return shown


def _crm_name(self: ContactValidation, info: Info) -> str | None:
    # The organisation's CRM: it comes with the request's agent, not with the row.
    return info.context.organization.crm_name if self.status is ValidationStatus.VALIDATED else None


@strawberry.type(description="Whether, when and by which CRM the contact was validated.")
class ContactValidation:
    status: ValidationStatus = strawberry.field(description="VALIDATED or NOT_VALIDATED.")
    crm_name: str | None = strawberry.field(
        description="The CRM that validated the contact; null when not validated.",
        resolver=_crm_name,
    )
    crm_record_id: str | None = strawberry.field(description="The contact's id in that CRM.")
    validated_at: datetime | None = strawberry.field(description="When it was validated.")
    last_lookup_at: datetime | None = strawberry.field(
        description="When the CRM was last asked about the contact."
    )

    @classmethod
    def of(cls, row: contacts_db.Contact) -> ContactValidation:
        return cls(
            status=VALIDATION_STATUSES[row.validation_status],
            crm_record_id=row.crm_record_id,
            validated_at=row.validated_at,
            last_lookup_at=row.last_lookup_at,
        )


def _profile_url(self: Contact) -> str:
    return contacts.profile_url(self.row.network, self.row.handle)


@strawberry.type(description="A customer who wrote to the organisation from a social network.")
class Contact(Node):
    name: str = strawberry.field(description="Display name.")
    handle: str = strawberry.field(description="Handle on their network, without @.")
    network: SocialNetwork = strawberry.field(description="The network they wrote from.")
    avatar_url: str | None = strawberry.field(description="Profile picture, if any.")
    is_vip: bool = strawberry.field(description="VIPs rank higher in the queue.")
    created_at: datetime = strawberry.field(description="When the contact first appeared.")
    updated_at: datetime = strawberry.field(description="When the contact last changed.")
    profile_url: str = strawberry.field(
        description="Their profile on their network (URL-encoded handle).", resolver=_profile_url
    )
    # Made with the contact: a queue page asks it of every contact, and a value costs
    # less than a resolver call.
    validation: ContactValidation = strawberry.field(
        description="Whether an external CRM has validated the contact."
    )
    row: strawberry.Private[contacts_db.Contact]

    @strawberry.field(description="The VIP group, if the contact is a VIP in one.")
    async def vip_group(self, info: Info) -> VipGroup | None:
        return await load_vip_group(info, self.row.vip_group_id)

    @strawberry.field(
        description="Every live attribute definition with this contact's value (null when "
        "unset), in definition position order."
    )
    async def attributes(
        self,
        info: Info,
        kinds: Annotated[
            list[AttributeKind] | None,
            strawberry.argument(description="Only attributes of these kinds."),
        ] = None,
    ) -> list[Attribute]:
        ctx = info.context
        wanted = None if kinds is None else [kind.name for kind in kinds]
        definitions = await contacts.live_definitions(ctx, wanted)
        values = await contacts.listed_values_of(ctx, self.row.id, history=_shows_history(info))
        return Attribute.all_of(definitions, values, ctx.memo.setdefault(_UNSET_ATTRIBUTES, {}))

    @strawberry.field(description="One attribute by key; null when no live definition has it.")
    async def attribute(
        self,
        info: Info,
        key: Annotated[str, strawberry.argument(description="The definition's key, e.g. `email`.")],
    ) -> Attribute | None:
        found = await contacts.attribute_of(info.context, self.row.id, key)
        return None if found is None else Attribute.of(found)

    @strawberry.field(description="The contact's notes (the Notes tab), newest first.")
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
        found = await notes_resolvers.notes_of_contact(ctx, self.row.id, args)
        return connection(
            found,
            Note.of,
            lambda: ctx.loaders.note_count_by_contact_id.load(self.row.id),
        )

    @strawberry.field(description="The contact's conversations, most recent message first.")
    async def conversations(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Conversation]:
        ctx = info.context
        args = PageArgs(first, after, last, before)
        found = await conversations.conversations_of_contact(ctx, self.row.id, args)
        return connection(
            found,
            Conversation.of,
            lambda: ctx.loaders.conversation_count_by_contact_id.load(self.row.id),
        )

    @classmethod
    def of(cls, row: contacts_db.Contact) -> Contact:
        return cls(
            id=strawberry.ID(ids.encode("Contact", row.id)),
            name=row.name,
            handle=row.handle,
            network=SOCIAL_NETWORKS[row.network],
            avatar_url=row.avatar_url,
            is_vip=row.is_vip,
            created_at=row.created_at,
            updated_at=row.updated_at,
            validation=ContactValidation.of(row),
            row=row,
        )


async def load_contact(info: Info, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    row = await info.context.loaders.contact_by_id.load(contact_id)
    return None if row is None else Contact.of(row)
