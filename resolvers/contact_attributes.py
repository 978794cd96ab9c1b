"""Agents setting and clearing a contact's attribute values.

A change to an editable CRM-managed attribute is also queued for the CRM in crm_outbox,
in the same savepoint as the change: both happen or neither does. A change that leaves
the value as it was writes nothing and queues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from db import attributes as attributes_db
from db import contacts as contacts_db
from db.attributes import AttributeDefinition
from db.contacts import Contact
from resolvers.attributes import KEY, check_value
from resolvers.contacts import ContactAttribute
from resolvers.context import Context
from resolvers.errors import Problems, UserError, UserErrorCode
from resolvers.inputs import contact_to_change
from resolvers.mutations import write

_CONTACT_ID = ["input", "contactId"]
_KEY = ["input", "key"]
_VALUE = ["input", "value"]


@dataclass(frozen=True, slots=True)
class AttributeChange:
    contact: Contact
    attribute: ContactAttribute


async def set_attribute(
    ctx: Context, contact_gid: str, key: str, value: str
) -> AttributeChange | list[UserError]:
    """Sets the contact's value of the attribute `key`, normalised (resolvers/attributes.py).
    User errors: NOT_FOUND (contact, key), INVALID_VALUE (archived definition, bad value),
    READ_ONLY (not editable by agents), BLANK, TOO_LONG."""
    organization_id, agent_id = ctx.organization_id, ctx.agent.id

    async def work(conn: asyncpg.Connection) -> AttributeChange:
        contact, definition = await _editable(conn, organization_id, contact_gid, key)
        problems = Problems()
        normalised = check_value(problems, _VALUE, definition, value)
        problems.raise_if_any()
        assert normalised is not None
        return await _put(conn, contact, definition, normalised, agent_id=agent_id)

    return _attribute_changed(ctx, await write(ctx, work))


async def clear_attribute(
    ctx: Context, contact_gid: str, key: str
) -> AttributeChange | list[UserError]:
    """Clears the contact's value of the attribute `key`; clearing an unset value changes
    nothing. User errors as set_attribute's, but for the value."""
    organization_id, agent_id = ctx.organization_id, ctx.agent.id

    async def work(conn: asyncpg.Connection) -> AttributeChange:
        contact, definition = await _editable(conn, organization_id, contact_gid, key)
        return await _put(conn, contact, definition, None, agent_id=agent_id)

    return _attribute_changed(ctx, await write(ctx, work))


async def _editable(
    conn: asyncpg.Connection, organization_id: int, contact_gid: str, key: str
) -> tuple[Contact, AttributeDefinition]:
    """The contact (locked, so concurrent edits of its values queue and each outbox record
    has the right old value) and the definition, if an agent may write it; else raises
    Rejected."""
    problems = Problems()
    contact = await contact_to_change(conn, organization_id, contact_gid, problems, _CONTACT_ID)
    definition = (
        await attributes_db.definition_by_key_for_share(conn, organization_id, key)
        if KEY.fullmatch(key)
        else None
    )
    if definition is None:
        problems.add(_KEY, UserErrorCode.NOT_FOUND, "No attribute has this key")
    elif definition.archived:
        problems.add(
            _KEY, UserErrorCode.INVALID_VALUE, f"{definition.label} is archived: it takes no values"
        )
    elif not definition.editable:
        source = "the CRM" if definition.kind == "CRM" else "administrators"
        problems.add(
            _KEY,
            UserErrorCode.READ_ONLY,
            f"{definition.label} is managed by {source}; agents cannot change it",
        )
    problems.raise_if_any()
    assert contact is not None  # else a problem was raised
    assert definition is not None
    return contact, definition


async def _put(
    conn: asyncpg.Connection,
    contact: Contact,
    definition: AttributeDefinition,
    value: str | None,
    *,
    agent_id: int,
) -> AttributeChange:
    organization_id = contact.organization_id
    current = await attributes_db.value_of(conn, organization_id, contact.id, definition.id)
    old_value = None if current is None else current.value
    if old_value == value:
        return AttributeChange(contact, ContactAttribute(contact.id, definition, current))
    stored = await attributes_db.put_value(
        conn, organization_id, contact.id, definition.id, value, agent_id=agent_id
    )
    if definition.kind == "CRM":
        await attributes_db.record_crm_change(
            conn,
            organization_id,
            contact_id=contact.id,
            definition_id=definition.id,
            key=definition.key,
            old_value=old_value,
            new_value=value,
            agent_id=agent_id,
        )
    touched = await contacts_db.touch_contact(conn, organization_id, contact.id)
    assert touched is not None  # locked in _editable
    return AttributeChange(touched, ContactAttribute(contact.id, definition, stored))


def _attribute_changed(
    ctx: Context, result: AttributeChange | list[UserError]
) -> AttributeChange | list[UserError]:
    if isinstance(result, AttributeChange):
        contact = result.contact
        ctx.loaders.contact_by_id.clear(contact.id).prime(contact.id, contact)
        ctx.loaders.forget_attribute_values(contact.id)
    return result
