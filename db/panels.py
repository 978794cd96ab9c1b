"""Contacts as a contact panel opens them: with their VIP group and attribute values,
and, when the query shows them, a window of each one's notes and of its conversations,
all in one statement where three would be sent one after the other (each round trip to
PostgreSQL costs the server about 6% of a panel's time)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db import contacts as contacts_db
from db import conversations as conversations_db
from db import notes as notes_db
from db.agents import Agent
from db.attributes import AttributeValue
from db.contacts import Contact
from db.conversations import Conversation
from db.keyset import Window
from db.notes import Note
from db.teams import VipGroup


@dataclass(frozen=True, slots=True)
class ContactInFull:
    contact: Contact
    vip_group: VipGroup | None
    values: list[AttributeValue]
    notes: list[Note] | None  # the window asked for, in key order; None if not asked
    authors: list[Agent]  # of those notes
    conversations: list[Conversation] | None  # likewise


async def contacts_in_full(
    conn: asyncpg.Connection,
    organization_id: int,
    ids: Sequence[int],
    *,
    notes: Window | None = None,
    conversations: Window | None = None,
) -> list[ContactInFull]:
    """The contacts among `ids` in full (contacts_by_ids_in_full), each with the `notes`
    window of its live notes and their authors, and the `conversations` window of its
    conversations, where given: the same rows as page_notes and
    page_conversations_of_contacts read."""
    extra: list[str] = []
    params: list[Any] = []
    if notes is not None:
        expression, notes_params = notes_db.notes_of_parent_array(
            "contact_id", "c.id", notes, first_param=3 + len(params)
        )
        extra.append(expression)
        params += notes_params
    if conversations is not None:
        expression, conversation_params = conversations_db.conversations_of_contact_array(
            "c.id", conversations, first_param=3 + len(params)
        )
        extra.append(expression)
        params += conversation_params
    found = await contacts_db.contacts_by_ids_in_full(
        conn, organization_id, ids, extra=extra, extra_params=params
    )
    read = []
    for contact, group, values, arrays in found:
        page_notes: list[Note] | None = None
        authors: list[Agent] = []
        page_conversations: list[Conversation] | None = None
        position = 0
        if notes is not None:
            page_notes, authors = notes_db.notes_of_array(organization_id, arrays[0], notes)
            position = 1
        if conversations is not None:
            page_conversations = conversations_db.conversations_of_array(
                arrays[position], conversations
            )
        read.append(ContactInFull(contact, group, values, page_notes, authors, page_conversations))
    return read
