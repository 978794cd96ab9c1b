"""Test data written straight into the tables as the schema owner (which bypasses row-level
security): many rows in a few statements, and single rows with chosen sort keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

# Long before any demo row, so bulk rows sort first where the order is by time ascending.
EPOCH = datetime(2001, 1, 1, tzinfo=UTC)

# Sorts before every demo name ("Ada …" is the first possible one).
BULK_NAME = "Aaron Bulk"


async def add_bulk_contacts(
    owner: asyncpg.Connection, organization_id: int, agent_id: int, *, count: int
) -> list[int]:
    """`count` contacts named "Aaron Bulk 001"…, every third (the first among them) a VIP
    of the organisation's highest-priority VIP group (if any). Each has an email and a bio,
    two contact notes with one revision each, and one conversation with three messages and
    two notes. Returns the contact ids in name order."""
    vip_group = await owner.fetchval(
        "SELECT id FROM vip_groups WHERE organization_id = $1 ORDER BY priority DESC LIMIT 1",
        organization_id,
    )
    contact_ids: list[int] = [
        row["id"]
        for row in await owner.fetch(
            "INSERT INTO contacts (organization_id, network, network_user_id, handle, name,"
            " is_vip, vip_group_id)"
            " SELECT $1, 'X', 'bulk-' || n, 'bulk' || n, $2 || ' ' || lpad(n::text, 3, '0'),"
            "        n % 3 = 1, CASE WHEN n % 3 = 1 THEN $3::bigint END"
            " FROM generate_series(1, $4) AS n ORDER BY n RETURNING id",
            organization_id,
            BULK_NAME,
            vip_group,
            count,
        )
    ]
    await owner.execute(
        "INSERT INTO contact_attribute_values (organization_id, contact_id, definition_id, value,"
        " updated_by)"
        " SELECT $1, c.id, d.id,"
        "        CASE d.key WHEN 'email' THEN c.handle || '@bulk.example' ELSE 'Bulk bio' END,"
        "        $3"
        " FROM contacts c JOIN attribute_definitions d ON d.organization_id = c.organization_id"
        " WHERE c.organization_id = $1 AND c.id = ANY($2::bigint[]) AND d.key IN ('email', 'bio')",
        organization_id,
        contact_ids,
        agent_id,
    )
    await owner.execute(
        "INSERT INTO notes (organization_id, contact_id, body, author_id, created_at, updated_at,"
        " updated_by, version)"
        " SELECT $1, c, 'Contact note ' || k, $3, $4::timestamptz + k * interval '1 minute',"
        "        $4::timestamptz + k * interval '1 minute', $3, 2"
        " FROM unnest($2::bigint[]) AS c, generate_series(1, 2) AS k",
        organization_id,
        contact_ids,
        agent_id,
        EPOCH,
    )
    conversation_ids: list[int] = [
        row["id"]
        for row in await owner.fetch(
            "INSERT INTO conversations (organization_id, contact_id, network, status, subject,"
            " created_at, last_message_at)"
            " SELECT $1, c, 'X', 'OPEN', 'Bulk', $3, $3::timestamptz + o * interval '1 second'"
            " FROM unnest($2::bigint[]) WITH ORDINALITY AS u(c, o) RETURNING id",
            organization_id,
            contact_ids,
            EPOCH,
        )
    ]
    await owner.execute(
        "INSERT INTO messages (organization_id, conversation_id, direction, author_name, body,"
        " sent_at)"
        " SELECT $1, v, CASE WHEN k = 2 THEN 'OUTBOUND' ELSE 'INBOUND' END, 'Aaron',"
        "        'Message ' || k, $3::timestamptz + k * interval '1 second'"
        " FROM unnest($2::bigint[]) AS v, generate_series(1, 3) AS k",
        organization_id,
        conversation_ids,
        EPOCH,
    )
    await owner.execute(
        "INSERT INTO notes (organization_id, conversation_id, body, author_id, created_at,"
        " updated_at)"
        " SELECT $1, v, 'Conversation note ' || k, $3, $4::timestamptz + k * interval '1 minute',"
        "        $4::timestamptz + k * interval '1 minute'"
        " FROM unnest($2::bigint[]) AS v, generate_series(1, 2) AS k",
        organization_id,
        conversation_ids,
        agent_id,
        EPOCH,
    )
    await owner.execute(
        "INSERT INTO note_revisions (organization_id, note_id, body, edited_at, edited_by)"
        " SELECT organization_id, id, 'Earlier ' || body, updated_at, author_id FROM notes"
        " WHERE organization_id = $1 AND contact_id = ANY($2::bigint[])",
        organization_id,
        contact_ids,
    )
    return contact_ids


async def add_contact(
    owner: asyncpg.Connection,
    organization_id: int,
    *,
    name: str,
    handle: str = "someone",
    network: str = "X",
    is_vip: bool = False,
    vip_group_id: int | None = None,
) -> int:
    contact_id: int = await owner.fetchval(
        "INSERT INTO contacts (organization_id, network, network_user_id, handle, name, is_vip,"
        " vip_group_id) VALUES ($1, $2, gen_random_uuid()::text, $3, $4, $5, $6) RETURNING id",
        organization_id,
        network,
        handle,
        name,
        is_vip,
        vip_group_id,
    )
    return contact_id


async def add_conversation(
    owner: asyncpg.Connection,
    organization_id: int,
    contact_id: int,
    *,
    last_message_at: datetime,
    team_id: int | None = None,
    status: str = "OPEN",
) -> int:
    conversation_id: int = await owner.fetchval(
        "INSERT INTO conversations (organization_id, contact_id, network, status, team_id,"
        " created_at, last_message_at)"
        " SELECT $1, $2, network, $3, $4, $5::timestamptz - interval '1 hour', $5 FROM contacts"
        " WHERE organization_id = $1 AND id = $2 RETURNING id",
        organization_id,
        contact_id,
        status,
        team_id,
        last_message_at,
    )
    return conversation_id


async def add_note(
    owner: asyncpg.Connection,
    organization_id: int,
    author_id: int,
    *,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    body: str = "A note",
    created_at: datetime = EPOCH,
) -> int:
    note_id: int = await owner.fetchval(
        "INSERT INTO notes (organization_id, contact_id, conversation_id, body, author_id,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        organization_id,
        contact_id,
        conversation_id,
        body,
        author_id,
        created_at,
    )
    return note_id


async def add_message(
    owner: asyncpg.Connection,
    organization_id: int,
    conversation_id: int,
    *,
    sent_at: datetime,
    direction: str = "INBOUND",
    body: str = "Hello",
) -> int:
    message_id: int = await owner.fetchval(
        "INSERT INTO messages (organization_id, conversation_id, direction, author_name, body,"
        " sent_at) VALUES ($1, $2, $3, 'Someone', $4, $5) RETURNING id",
        organization_id,
        conversation_id,
        direction,
        body,
        sent_at,
    )
    return message_id


def minutes(n: int) -> datetime:
    """EPOCH plus n minutes."""
    return EPOCH + timedelta(minutes=n)
