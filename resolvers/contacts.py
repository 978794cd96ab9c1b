"""Contacts: lookup, search and the attributes shown on the panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from db import contacts as contacts_db
from db.attributes import AttributeDefinition, AttributeValue, ContactValues, ValuesRead
from db.contacts import Contact, ContactFilter
from db.keyset import Window
from resolvers import conversations as conversations_resolvers
from resolvers import ids
from resolvers import notes as notes_resolvers
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.pagination import Ordering, Page, PageArgs, page, window
from resolvers.text import invalid_characters

_PROFILE_URLS = {
    "X": "https://x.com/{}",
    "INSTAGRAM": "https://www.instagram.com/{}",
    "FACEBOOK": "https://www.facebook.com/{}",
    "LINKEDIN": "https://www.linkedin.com/in/{}",
    "TIKTOK": "https://www.tiktok.com/@{}",
    "YOUTUBE": "https://www.youtube.com/@{}",
}

MAX_SEARCH = 100

BY_NAME: Ordering[Contact] = Ordering(
    "contacts.name", (str, int), lambda contact: (contact.name, contact.id)
)


def profile_url(network: str, handle: str) -> str:
    """The contact's profile on their network; the handle is URL-encoded (a leading @ is
    not part of it)."""
    return _PROFILE_URLS[network].format(quote(handle.removeprefix("@"), safe=""))


def read_pages_with_contacts(
    ctx: Context, *, notes: PageArgs | None, conversations: PageArgs | None
) -> None:
    """The next contacts loaded are read with these pages of their notes and conversations
    (a field showing a contact asks, for the fields below it). Arguments that are not
    valid are left to the fields to report."""
    ctx.loaders.contact_by_id.read_pages(
        notes=_window_or_none(notes_resolvers.contact_notes_window, notes),
        conversations=_window_or_none(
            conversations_resolvers.contact_conversations_window, conversations
        ),
    )


def _window_or_none(make: Callable[[PageArgs], Window], args: PageArgs | None) -> Window | None:
    if args is None:
        return None
    try:
        return make(args)
    except BadUserInput:
        return None


async def contact_by_global_id(ctx: Context, global_id: str) -> Contact | None:
    pk = ids.decode_as(global_id, "Contact")
    if pk is None:
        return None
    contact: Contact | None = await ctx.loaders.contact_by_id.load(pk)
    return contact


async def list_contacts(
    ctx: Context, args: PageArgs, where: ContactFilter, *, values: ValuesRead = ValuesRead.NONE
) -> tuple[Page[Contact], ContactFilter]:
    """A page of contacts by name, primed into the contact loader (with as much of their
    attribute values as `values` says, read in the same statement). Raises BadUserInput
    for a search over 100 characters or with characters PostgreSQL cannot store."""
    if where.search is not None:
        if len(where.search) > MAX_SEARCH:
            raise BadUserInput(f"`search` is at most {MAX_SEARCH} characters")
        unstorable = invalid_characters(where.search)
        if unstorable is not None:
            raise BadUserInput(f"`search` {unstorable}")
        where = ContactFilter(where.search.strip() or None, where.is_vip, where.network)
    request = window(args, BY_NAME)
    found = await ctx.session.run(
        contacts_db.page_contacts,
        ctx.organization_id,
        where=where,
        window=request,
        values=values,
    )
    for contact, read in found:
        ctx.loaders.prime_contact(contact, read)
    return page([contact for contact, _ in found], request, BY_NAME), where


async def count_contacts(ctx: Context, where: ContactFilter) -> int:
    return await ctx.session.run(contacts_db.count_contacts, ctx.organization_id, where=where)


# Not frozen: a queue page makes some 600, and a frozen dataclass takes three times as
# long to make (each field is set through object.__setattr__). Nothing changes them.
@dataclass(slots=True)
class ContactAttribute:
    """A live definition with the contact's value for it (None when unset)."""

    contact_id: int
    definition: AttributeDefinition
    value: AttributeValue | None


async def attributes_of(
    ctx: Context, contact_id: int, *, kinds: list[str] | None = None
) -> list[ContactAttribute]:
    """Every non-archived definition, in position order, with this contact's value."""
    definitions = await live_definitions(ctx, kinds)
    values = await values_by_definition(ctx, contact_id)
    return [
        ContactAttribute(contact_id, definition, values.get(definition.id))
        for definition in definitions
    ]


# Context.memo: live_definitions' lists, by the loaded list's id() and the kinds.
_LIVE_DEFINITIONS = "resolvers.contacts.live_definitions"


async def live_definitions(
    ctx: Context, kinds: list[str] | None = None
) -> list[AttributeDefinition]:
    """The non-archived definitions (of these kinds, if given), in position order. The
    list is made once per request and shared by every contact's attributes (a queue
    page asks for it fifty times): not to be changed."""
    definitions: list[
        AttributeDefinition
    ] = await ctx.loaders.attribute_definitions_by_organization.load(ctx.organization_id)
    made = ctx.memo.setdefault(_LIVE_DEFINITIONS, {})
    key = (id(definitions), None if kinds is None else tuple(kinds))
    found: tuple[list[AttributeDefinition], list[AttributeDefinition]] | None = made.get(key)
    # The entry keeps the loaded list alive, so its id is not reused while it is here;
    # a mutation that changes the definitions makes the loader load a new list.
    if found is None or found[0] is not definitions:
        live = [
            definition
            for definition in definitions
            if not definition.archived and (kinds is None or definition.kind in kinds)
        ]
        found = made[key] = (definitions, live)
    return found[1]


async def values_of(ctx: Context, contact_id: int) -> list[AttributeValue]:
    """The contact's attribute values, in no particular order."""
    values: list[AttributeValue] = await ctx.loaders.attribute_values_by_contact_id.load(contact_id)
    return values


async def listed_values_of(ctx: Context, contact_id: int, *, history: bool) -> ContactValues:
    """The contact's attribute values as a listing of its attributes needs them: with
    their history (who set each value, and when), or, where a page of contacts read them
    without, possibly without."""
    if not history:
        texts = ctx.loaders.attribute_texts_by_contact_id.get(contact_id)
        if texts is not None:
            return texts
    return await values_of(ctx, contact_id)


async def values_by_definition(ctx: Context, contact_id: int) -> dict[int, AttributeValue]:
    """The contact's attribute values, by definition id."""
    return {value.definition_id: value for value in await values_of(ctx, contact_id)}


async def attribute_of(ctx: Context, contact_id: int, key: str) -> ContactAttribute | None:
    for attribute in await attributes_of(ctx, contact_id):
        if attribute.definition.key == key:
            return attribute
    return None
