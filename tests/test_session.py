"""What a response acknowledges is committed: a failed statement anywhere in the request
turns a success into "nothing was saved", and statements still running when a field
fails are waited for before the transaction ends."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from db import notes as notes_db
from tests.conftest import Org

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"
TWO_NOTES = """
mutation ($id: ID!) {
  a: addContactNote(input: {contactId: $id, body: "Acknowledged?"}) {
    note { id } userErrors { code }
  }
  b: addContactNote(input: {contactId: $id, body: "Acknowledged?"}) {
    note { id revisions { body } } userErrors { code }
  }
}
"""
NOTE_WITH_A_FAILING_SIBLING = """
mutation ($id: ID!) {
  addContactNote(input: {contactId: $id, body: "Next to a bad cursor"}) {
    note { id }
    contact {
      notes(first: 5) { nodes { id body } }
      conversations(first: 5, after: "not a cursor") { nodes { id } }
    }
    userErrors { code }
  }
}
"""
QUERY_WITH_A_FAILING_SIBLING = """
query ($id: ID!) {
  contact(id: $id) {
    notes(first: 5) { nodes { id body author { name } } }
    conversations(first: 5, after: "not a cursor") { nodes { id } }
  }
}
"""
COUNT = "SELECT count(*) FROM notes WHERE organization_id = $1 AND body = $2"


async def _contact(org: Org) -> str:
    reply = await org.agent(FIRST_CONTACT)
    contact_id: str = reply.data["contacts"]["nodes"][0]["id"]
    return contact_id


async def _failing(*args: Any, **kwargs: Any) -> Any:
    # Stands for any error PostgreSQL raises mid-request: a timeout, a deadlock, a bug.
    conn: asyncpg.Connection = args[0]
    await conn.execute("SELECT 1 / 0")


async def test_a_failed_statement_after_a_mutation_acknowledges_nothing(
    demo_org: Org, owner: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: reading revisions, which only the second payload asks for, fails
    contact_id = await _contact(demo_org)
    monkeypatch.setattr(notes_db, "revisions_by_note_ids", _failing)

    # when
    reply = await demo_org.agent(TWO_NOTES, {"id": contact_id})

    # then: no part of the answer claims a saved note, and none was saved
    assert reply.body.get("data") is None
    assert reply.codes == ["INTERNAL_SERVER_ERROR"]
    assert "nothing was changed" in reply.errors[0]["message"]
    assert await owner.fetchval(COUNT, demo_org.id, "Acknowledged?") == 0


async def test_statements_outliving_a_failed_field_are_waited_for(
    demo_org: Org, owner: asyncpg.Connection
) -> None:
    contact_id = await _contact(demo_org)

    replies = [
        await demo_org.agent(NOTE_WITH_A_FAILING_SIBLING, {"id": contact_id}) for _ in range(5)
    ]

    # then: every time the bad cursor is the one error and the note is saved
    for reply in replies:
        assert reply.codes == ["BAD_USER_INPUT"]
        assert reply.body["data"]["addContactNote"]["note"]["id"]
    assert await owner.fetchval(COUNT, demo_org.id, "Next to a bad cursor") == 5


async def test_a_query_with_a_failed_field_keeps_its_own_error(demo_org: Org) -> None:
    contact_id = await _contact(demo_org)

    replies = [
        await demo_org.agent(QUERY_WITH_A_FAILING_SIBLING, {"id": contact_id}) for _ in range(5)
    ]

    assert all(reply.codes == ["BAD_USER_INPUT"] for reply in replies)


async def test_the_server_s_statements_are_planned_once_per_connection(
    app: Any, demo_org: Org, owner: asyncpg.Connection
) -> None:
    # A loader's batch of ids: by default PostgreSQL would plan it at every execution.
    statement = "SELECT id FROM contacts WHERE organization_id = $1 AND id = ANY($2::bigint[])"
    ids = [r["id"] for r in await owner.fetch("SELECT id FROM contacts LIMIT 20")]
    async with app.state.pool.acquire() as conn, conn.transaction():
        for n in range(1, 8):
            await conn.fetch(statement, demo_org.id, ids[:n])
        plans = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            statement,
        )

    assert plans is not None
    assert dict(plans) == {"generic_plans": 7, "custom_plans": 0}


async def test_the_search_functions_plan_as_their_statements_need(
    owner: asyncpg.Connection,
) -> None:
    settings = await owner.fetch(
        "SELECT proname, proconfig FROM pg_proc"
        " WHERE proname IN ('search_contact_ids', 'count_matching_contacts') ORDER BY proname"
    )

    assert [r["proname"] for r in settings] == ["count_matching_contacts", "search_contact_ids"]
    # count_matching_contacts() keeps plans made for each term (migration 0008);
    # search_contact_ids() plans its statements for each term by assembling them, and
    # keeps the one fixed statement's plan (migration 0010).
    assert "plan_cache_mode=auto" in settings[0]["proconfig"]
    assert "plan_cache_mode=force_generic_plan" in settings[1]["proconfig"]


async def test_statements_are_counted_as_sent_and_transaction_control_is_not(
    app: Any, demo_org: Org
) -> None:
    from resolvers.auth import token_sha256
    from resolvers.session import Session

    async def statements(conn: asyncpg.Connection) -> None:
        await conn.fetch("SELECT 1")
        await conn.fetchrow("SELECT 1")
        await conn.fetchval("SELECT 1")
        await conn.execute("SELECT $1::int", 1)
        async with conn.transaction():  # SAVEPOINT and RELEASE, uncounted
            await conn.executemany("SELECT $1::int", [(1,), (2,)])
        await conn.execute("savepoint by_hand")
        await conn.execute("RELEASE SAVEPOINT by_hand")
        with pytest.raises(asyncpg.DivisionByZeroError):
            await conn.fetchval("SELECT 1 / 0")  # sent, and failed

    session = Session(app.state.pool)
    assert demo_org.agent.token is not None
    assert await session.authenticate(token_sha256(demo_org.agent.token)) is not None
    try:
        assert session.statements == 1
        await session.run(statements)
    finally:  # the pooled connection goes back whatever the test finds
        await session.close(commit=False)

    assert session.statements == 1 + 6
