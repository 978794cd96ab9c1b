"""Inputs that several mutations check alike: the contact a mutation changes, and names."""

from __future__ import annotations

import asyncpg

from db import contacts as contacts_db
from db.contacts import Contact
from resolvers import ids
from resolvers.errors import Problems, UserErrorCode
from resolvers.text import check_text


async def contact_to_change(
    conn: asyncpg.Connection,
    organization_id: int,
    contact_gid: str,
    problems: Problems,
    path: list[str],
) -> Contact | None:
    """The contact, locked until the transaction ends so that concurrent changes to it
    queue; None after adding NOT_FOUND at `path` (a malformed id, an id of another type, a
    missing contact and another organisation's all read the same)."""
    contact_id = ids.decode_as(contact_gid, "Contact")
    contact = (
        None
        if contact_id is None
        else await contacts_db.contact_for_update(conn, organization_id, contact_id)
    )
    if contact is None:
        problems.add(path, UserErrorCode.NOT_FOUND, "No contact has this id")
    return contact


def checked_name(
    problems: Problems, path: list[str], name: str, *, max_length: int, label: str
) -> str:
    """The name trimmed, as it is stored; problems get INVALID_VALUE, BLANK or TOO_LONG,
    the length counted after trimming."""
    trimmed = name.strip()
    check_text(problems, path, trimmed, max_length=max_length, label=label)
    return trimmed
