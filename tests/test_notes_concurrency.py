"""Concurrent edits of one note through the real app (each request its own transaction, at
READ COMMITTED, ten pooled connections): no edit is lost and no conflict goes unnoticed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from tests.conftest import GraphQL, Org

EDITS = 50

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"

ADD_CONTACT_NOTE = """
mutation ($input: AddContactNoteInput!) {
  addContactNote(input: $input) { note { id } userErrors { code } }
}
"""

UPDATE_NOTE = """
mutation ($input: UpdateNoteInput!) {
  updateNote(input: $input) {
    note { body version updatedBy { name } }
    userErrors { field message code }
  }
}
"""

NOTE = """
query ($id: ID!) {
  node(id: $id) {
    ... on Note { body version updatedBy { name } revisions { body editedAt editedBy { name } } }
  }
}
"""


async def new_note(org: Org, body: str) -> str:
    contacts = (await org.agent(FIRST_CONTACT)).data["contacts"]
    reply = await org.agent(
        ADD_CONTACT_NOTE, {"input": {"contactId": contacts["nodes"][0]["id"], "body": body}}
    )
    note_id: str = reply.data["addContactNote"]["note"]["id"]
    return note_id


async def edit(caller: GraphQL, note_id: str, body: str, version: int | None) -> dict[str, Any]:
    given: dict[str, Any] = {"noteId": note_id, "body": body}
    if version is not None:
        given["expectedVersion"] = version
    payload: dict[str, Any] = (await caller(UPDATE_NOTE, {"input": given})).data["updateNote"]
    return payload


async def test_one_of_fifty_edits_of_the_same_version_wins(demo_org: Org) -> None:
    # given
    note_id = await new_note(demo_org, "Original")
    callers = [demo_org.agent, demo_org.admin]

    # when fifty agents save an edit of version 1 at once
    payloads = await asyncio.gather(
        *(edit(callers[i % 2], note_id, f"Edit {i}", 1) for i in range(EDITS))
    )

    # then exactly one is saved and 49 are told the version it made
    saved = [p for p in payloads if not p["userErrors"]]
    conflicts = [p for p in payloads if p["userErrors"]]
    assert len(saved) == 1
    assert len(conflicts) == EDITS - 1
    winner = saved[0]["note"]
    assert winner["version"] == 2
    for conflict in conflicts:
        assert conflict["userErrors"] == [
            {
                "field": ["input", "expectedVersion"],
                "message": "The note is at version 2, not 1: someone else edited it; "
                "nothing was changed",
                "code": "VERSION_CONFLICT",
            }
        ]
        assert conflict["note"] == winner
    note = (await demo_org.agent(NOTE, {"id": note_id})).data["node"]
    assert (note["body"], note["version"]) == (winner["body"], 2)
    assert [(r["body"], r["editedBy"]) for r in note["revisions"]] == [
        ("Original", winner["updatedBy"])
    ]


async def test_fifty_concurrent_edits_without_a_version_all_keep_their_predecessor(
    demo_org: Org,
) -> None:
    # given
    note_id = await new_note(demo_org, "Original")
    callers = [demo_org.agent, demo_org.admin]

    # when fifty agents save an edit at once, none giving a version
    payloads = await asyncio.gather(
        *(edit(callers[i % 2], note_id, f"Edit {i}", None) for i in range(EDITS))
    )

    # then every edit is saved, each at its own version
    assert all(p["userErrors"] == [] for p in payloads)
    by_version = {p["note"]["version"]: p["note"] for p in payloads}
    assert sorted(by_version) == list(range(2, EDITS + 2))
    assert sorted(n["body"] for n in by_version.values()) == sorted(
        f"Edit {i}" for i in range(EDITS)
    )
    # and the history holds every body each edit replaced, in the order of the edits
    note = (await demo_org.agent(NOTE, {"id": note_id})).data["node"]
    assert note["version"] == EDITS + 1
    assert note["body"] == by_version[EDITS + 1]["body"]
    body_at = {1: "Original"} | {v: n["body"] for v, n in by_version.items()}
    revisions = note["revisions"]
    assert len(revisions) == EDITS
    for index, revision in enumerate(revisions):
        # revision `index` is version index + 1, replaced by the edit that made index + 2
        assert revision["body"] == body_at[index + 1]
        assert revision["editedBy"] == by_version[index + 2]["updatedBy"]
    moments = [datetime.fromisoformat(r["editedAt"]) for r in revisions]
    assert moments == sorted(moments)
