"""Dataloaders, created per request (see Context). Each batches the keys asked for in one
tick into one SQL statement and answers in key order, None or [] for a miss."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import asyncpg
from aiodataloader import DataLoader

from db import agents as agents_db
from db import attributes as attributes_db
from db import conversations as conversations_db
from db import notes as notes_db
from db import panels as panels_db
from db import teams as teams_db
from db.agents import Agent
from db.attributes import AttributeDefinition, AttributeTexts, AttributeValue, ContactValues
from db.contacts import Contact
from db.conversations import Conversation, Message
from db.keyset import Window
from db.notes import Note, NoteRevision
from db.teams import Team, VipGroup
from resolvers.session import Session


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_HasId)
L = TypeVar("L", bound="_Loader")
T = TypeVar("T")

ByIds = Callable[[asyncpg.Connection, int, Sequence[int]], Awaitable[list[Any]]]
PagesByParents = Callable[..., Awaitable[dict[int, list[Any]]]]
CountsByParents = Callable[[asyncpg.Connection, int, Sequence[int]], Awaitable[dict[int, int]]]


class _Loader(DataLoader[Any, Any]):
    def __init__(self, loaders: Loaders) -> None:
        super().__init__()
        # The request's other loaders: a statement that reads more than its own rows
        # (a note's author, a contact's VIP group) primes theirs.
        self.loaders = loaders
        self.session = loaders.session
        self.organization_id = loaders.organization_id


class _ById(_Loader, Generic[R]):
    fetch: ByIds

    async def batch_load_fn(self, ids: list[int]) -> list[R | None]:
        rows = await self.session.run(type(self).fetch, self.organization_id, ids)
        by_id = {row.id: row for row in rows}
        return [by_id.get(i) for i in ids]


class _PageByParent(_Loader, Generic[T]):
    """Keys are (parent id, window); one statement per distinct window in the batch."""

    fetch: PagesByParents

    async def batch_load_fn(self, keys: list[tuple[int, Window]]) -> list[list[T]]:
        by_window: dict[Window, list[int]] = {}
        for parent_id, window in keys:
            by_window.setdefault(window, []).append(parent_id)
        found: dict[Window, dict[int, list[T]]] = {}
        for window, parent_ids in by_window.items():
            found[window] = await self.session.run(self._fetch_page, parent_ids, window=window)
        return [found[window].get(parent_id, []) for parent_id, window in keys]

    async def _fetch_page(
        self, conn: asyncpg.Connection, parent_ids: list[int], *, window: Window
    ) -> dict[int, list[T]]:
        return await type(self).fetch(conn, self.organization_id, parent_ids, window=window)


class _CountByParent(_Loader):
    fetch: CountsByParents

    async def batch_load_fn(self, parent_ids: list[int]) -> list[int]:
        counts = await self.session.run(type(self).fetch, self.organization_id, parent_ids)
        return [counts.get(parent_id, 0) for parent_id in parent_ids]


# A window two fields asked for differently: neither is read with the contacts.
_MIXED = Window(limit=-1)


class ContactByIdLoader(_Loader):
    """Contacts by id; their VIP groups and attribute values come in the same statement,
    into VipGroupByIdLoader and AttributeValuesByContactIdLoader, and so do the windows
    of notes and conversations that read_pages() asked for, into those loaders."""

    def __init__(self, loaders: Loaders) -> None:
        super().__init__(loaders)
        self._notes: Window | None = None
        self._conversations: Window | None = None

    def read_pages(self, *, notes: Window | None, conversations: Window | None) -> None:
        """Reads these windows of the notes and conversations of the contacts of the
        next batch in its statement (a field that will show them asks). Where fields
        ask for different windows of one list, they read their own."""
        self._notes = _asked(self._notes, notes)
        self._conversations = _asked(self._conversations, conversations)

    async def batch_load_fn(self, ids: list[int]) -> list[Contact | None]:
        notes = None if self._notes is _MIXED else self._notes
        conversations = None if self._conversations is _MIXED else self._conversations
        self._notes = self._conversations = None
        found = await self.session.run(
            panels_db.contacts_in_full,
            self.organization_id,
            ids,
            notes=notes,
            conversations=conversations,
        )
        loaders = self.loaders
        groups = loaders.vip_group_by_id
        values = loaders.attribute_values_by_contact_id
        for read in found:
            contact_id = read.contact.id
            if read.vip_group is not None:
                groups.prime(read.vip_group.id, read.vip_group)
            values.prime(contact_id, read.values)
            if read.notes is not None:
                loaders.notes_by_contact_id.prime((contact_id, notes), read.notes)
                agents = loaders.agent_by_id
                for author in read.authors:
                    agents.prime(author.id, author)
            if read.conversations is not None:
                loaders.conversations_by_contact_id.prime(
                    (contact_id, conversations), read.conversations
                )
        by_id = {read.contact.id: read.contact for read in found}
        return [by_id.get(i) for i in ids]


def _asked(current: Window | None, wanted: Window | None) -> Window | None:
    if wanted is None or wanted == current:
        return current
    return wanted if current is None else _MIXED


class AgentByIdLoader(_ById[Agent]):
    fetch = staticmethod(agents_db.agents_by_ids)


class TeamByIdLoader(_ById[Team]):
    fetch = staticmethod(teams_db.teams_by_ids)


class VipGroupByIdLoader(_ById[VipGroup]):
    fetch = staticmethod(teams_db.vip_groups_by_ids)


class ConversationByIdLoader(_ById[Conversation]):
    fetch = staticmethod(conversations_db.conversations_by_ids)


class MessageByIdLoader(_ById[Message]):
    fetch = staticmethod(conversations_db.messages_by_ids)


class NoteByIdLoader(_ById[Note]):
    fetch = staticmethod(notes_db.notes_by_ids)


class DefinitionsCache:
    """The attribute definitions of the organisations a worker served lately, kept
    between requests under the version of them that authentication read (migration
    0009). Nearly every request shows attributes, and definitions change seldom: a
    request whose organisation's version is the one kept reads them from here, and
    saves a statement.

    Only what no request's own writes can have touched is kept or served: definitions
    read before the request wrote anything. Read later than authentication, they may be
    newer than the version they are kept under, never older, so a request is never
    answered with definitions older than those it authenticated with."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[UUID, tuple[AttributeDefinition, ...]]] = OrderedDict()

    def get(self, organization_id: int, version: UUID) -> list[AttributeDefinition] | None:
        found = self._kept.get(organization_id)
        if found is None or found[0] != version:
            return None
        self._kept.move_to_end(organization_id)
        return list(found[1])

    def put(
        self, organization_id: int, version: UUID, definitions: Sequence[AttributeDefinition]
    ) -> None:
        self._kept[organization_id] = (version, tuple(definitions))
        self._kept.move_to_end(organization_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


# One per worker process.
DEFINITIONS = DefinitionsCache()


class AttributeDefinitionsByOrganizationLoader(_Loader):
    """Every attribute definition of the organisation (archived included), in position
    order; the request's own organisation's from DEFINITIONS where it can be."""

    async def batch_load_fn(self, organization_ids: list[int]) -> list[list[AttributeDefinition]]:
        version = self.loaders.definitions_version
        found = []
        for organization_id in organization_ids:
            kept = version if organization_id == self.organization_id else None
            definitions = None
            if kept is not None and not self.session.wrote:
                definitions = DEFINITIONS.get(organization_id, kept)
            if definitions is None:
                definitions = await self.session.run(
                    attributes_db.definitions_of_organization, organization_id
                )
                if kept is not None and not self.session.wrote:  # read before any write
                    DEFINITIONS.put(organization_id, kept, definitions)
            found.append(definitions)
        return found


class AttributeValuesByContactIdLoader(_Loader):
    async def batch_load_fn(self, contact_ids: list[int]) -> list[list[AttributeValue]]:
        values = await self.session.run(
            attributes_db.values_by_contact_ids, self.organization_id, contact_ids
        )
        by_contact: dict[int, list[AttributeValue]] = {}
        for value in values:
            by_contact.setdefault(value.contact_id, []).append(value)
        return [by_contact.get(contact_id, []) for contact_id in contact_ids]


class TeamsByOrganizationLoader(_Loader):
    async def batch_load_fn(self, organization_ids: list[int]) -> list[list[Team]]:
        return [
            await self.session.run(teams_db.teams_of_organization, organization_id)
            for organization_id in organization_ids
        ]


class VipGroupsByOrganizationLoader(_Loader):
    async def batch_load_fn(self, organization_ids: list[int]) -> list[list[VipGroup]]:
        return [
            await self.session.run(teams_db.vip_groups_of_organization, organization_id)
            for organization_id in organization_ids
        ]


async def _contact_note_counts(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> dict[int, int]:
    return await notes_db.count_notes(conn, organization_id, "contact_id", ids)


async def _conversation_note_counts(
    conn: asyncpg.Connection, organization_id: int, ids: Sequence[int]
) -> dict[int, int]:
    return await notes_db.count_notes(conn, organization_id, "conversation_id", ids)


class _NotesByParent(_PageByParent[Note]):
    """Pages of notes; their authors come in the same statement, into AgentByIdLoader."""

    parent: str  # the notes column naming the parent

    async def _fetch_page(
        self, conn: asyncpg.Connection, parent_ids: list[int], *, window: Window
    ) -> dict[int, list[Note]]:
        notes, authors = await notes_db.page_notes(
            conn, self.organization_id, self.parent, parent_ids, window=window
        )
        agents = self.loaders.agent_by_id
        for author in authors:
            agents.prime(author.id, author)
        return notes


class NotesByContactIdLoader(_NotesByParent):
    parent = "contact_id"


class NotesByConversationIdLoader(_NotesByParent):
    parent = "conversation_id"


class NoteCountByContactIdLoader(_CountByParent):
    fetch = staticmethod(_contact_note_counts)


class NoteCountByConversationIdLoader(_CountByParent):
    fetch = staticmethod(_conversation_note_counts)


class ConversationsByContactIdLoader(_PageByParent[Conversation]):
    fetch = staticmethod(conversations_db.page_conversations_of_contacts)


class ConversationCountByContactIdLoader(_CountByParent):
    fetch = staticmethod(conversations_db.count_conversations_of_contacts)


class MessagesByConversationIdLoader(_PageByParent[Message]):
    fetch = staticmethod(conversations_db.page_messages_of_conversations)


class MessageCountByConversationIdLoader(_CountByParent):
    fetch = staticmethod(conversations_db.count_messages_of_conversations)


class LastMessageByConversationIdLoader(_Loader):
    async def batch_load_fn(self, conversation_ids: list[int]) -> list[Message | None]:
        messages = await self.session.run(
            conversations_db.last_messages_of_conversations, self.organization_id, conversation_ids
        )
        by_conversation = {m.conversation_id: m for m in messages}
        return [by_conversation.get(i) for i in conversation_ids]


class RevisionsByNoteIdLoader(_Loader):
    async def batch_load_fn(self, note_ids: list[int]) -> list[list[NoteRevision]]:
        revisions = await self.session.run(
            notes_db.revisions_by_note_ids, self.organization_id, note_ids
        )
        by_note: dict[int, list[NoteRevision]] = {}
        for revision in revisions:
            by_note.setdefault(revision.note_id, []).append(revision)
        return [by_note.get(i, []) for i in note_ids]


class Loaders:
    """The request's loaders, each created on first use."""

    def __init__(
        self, session: Session, organization_id: int, definitions_version: UUID | None = None
    ) -> None:
        self.session = session
        self.organization_id = organization_id
        # The organisation's attribute definitions version, as authentication read it.
        self.definitions_version = definitions_version
        # Contacts' attribute values without their history, as pages of contacts read
        # them (by contact id): what a listing of attributes that shows no history needs,
        # short of the values the loader has (attribute_values_by_contact_id).
        self.attribute_texts_by_contact_id: dict[int, AttributeTexts] = {}

    def _make(self, cls: type[L]) -> L:
        return cls(self)

    def prime_contact(self, contact: Contact, values: ContactValues | None) -> None:
        """A contact read by another statement, with its attribute values if that read
        them too. As with a loader's prime, what was there first stays."""
        self.contact_by_id.prime(contact.id, contact)
        if isinstance(values, AttributeTexts):
            self.attribute_texts_by_contact_id.setdefault(contact.id, values)
        elif values is not None:
            self.attribute_values_by_contact_id.prime(contact.id, values)

    def forget_attribute_values(self, contact_id: int) -> None:
        """After a change to the contact's values: they are read again when next asked."""
        self.attribute_values_by_contact_id.clear(contact_id)
        self.attribute_texts_by_contact_id.pop(contact_id, None)

    def close(self) -> None:
        """Lets go of the loaders made for the request. Each refers back to this object
        (to prime the others), and that cycle would keep every row and future they cache
        alive until the garbage collector came round to it; a queue page left some 600
        such objects for it, and the collections they set off took milliseconds. A
        loader asked for after this is a new, empty one."""
        made = [name for name, value in vars(self).items() if isinstance(value, _Loader)]
        for name in made:
            del self.__dict__[name]

    @cached_property
    def contact_by_id(self) -> ContactByIdLoader:
        return self._make(ContactByIdLoader)

    @cached_property
    def agent_by_id(self) -> AgentByIdLoader:
        return self._make(AgentByIdLoader)

    @cached_property
    def team_by_id(self) -> TeamByIdLoader:
        return self._make(TeamByIdLoader)

    @cached_property
    def vip_group_by_id(self) -> VipGroupByIdLoader:
        return self._make(VipGroupByIdLoader)

    @cached_property
    def conversation_by_id(self) -> ConversationByIdLoader:
        return self._make(ConversationByIdLoader)

    @cached_property
    def message_by_id(self) -> MessageByIdLoader:
        return self._make(MessageByIdLoader)

    @cached_property
    def note_by_id(self) -> NoteByIdLoader:
        return self._make(NoteByIdLoader)

    @cached_property
    def attribute_definitions_by_organization(self) -> AttributeDefinitionsByOrganizationLoader:
        return self._make(AttributeDefinitionsByOrganizationLoader)

    @cached_property
    def attribute_values_by_contact_id(self) -> AttributeValuesByContactIdLoader:
        return self._make(AttributeValuesByContactIdLoader)

    @cached_property
    def teams_by_organization(self) -> TeamsByOrganizationLoader:
        return self._make(TeamsByOrganizationLoader)

    @cached_property
    def vip_groups_by_organization(self) -> VipGroupsByOrganizationLoader:
        return self._make(VipGroupsByOrganizationLoader)

    @cached_property
    def notes_by_contact_id(self) -> NotesByContactIdLoader:
        return self._make(NotesByContactIdLoader)

    @cached_property
    def notes_by_conversation_id(self) -> NotesByConversationIdLoader:
        return self._make(NotesByConversationIdLoader)

    @cached_property
    def note_count_by_contact_id(self) -> NoteCountByContactIdLoader:
        return self._make(NoteCountByContactIdLoader)

    @cached_property
    def note_count_by_conversation_id(self) -> NoteCountByConversationIdLoader:
        return self._make(NoteCountByConversationIdLoader)

    @cached_property
    def conversations_by_contact_id(self) -> ConversationsByContactIdLoader:
        return self._make(ConversationsByContactIdLoader)

    @cached_property
    def conversation_count_by_contact_id(self) -> ConversationCountByContactIdLoader:
        return self._make(ConversationCountByContactIdLoader)

    @cached_property
    def messages_by_conversation_id(self) -> MessagesByConversationIdLoader:
        return self._make(MessagesByConversationIdLoader)

    @cached_property
    def message_count_by_conversation_id(self) -> MessageCountByConversationIdLoader:
        return self._make(MessageCountByConversationIdLoader)

    @cached_property
    def last_message_by_conversation_id(self) -> LastMessageByConversationIdLoader:
        return self._make(LastMessageByConversationIdLoader)

    @cached_property
    def revisions_by_note_id(self) -> RevisionsByNoteIdLoader:
        return self._make(RevisionsByNoteIdLoader)
