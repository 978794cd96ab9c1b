"""addContactNote, addConversationNote, updateNote, deleteNote, restoreNote: through the app,
read back through queries; every refusal is shown to have changed nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import regex

from resolvers import ids
from tests.conftest import GraphQL, Org

FIRST_CONTACT = "{ contacts(first: 1) { nodes { id } } }"
FIRST_CONVERSATION = "{ conversations(first: 1) { nodes { id } } }"

NOTE_FIELDS = """
  id body version createdAt updatedAt
  author { name } updatedBy { name }
  contact { id } conversation { id }
  revisions { body editedAt editedBy { name } }
"""

CONTACT_NOTES = f"""
query ($id: ID!) {{
  contact(id: $id) {{ notes(first: 100) {{ totalCount nodes {{ {NOTE_FIELDS} }} }} }}
}}
"""

CONVERSATION_NOTES = f"""
query ($id: ID!) {{
  conversation(id: $id) {{ notes(first: 100) {{ totalCount nodes {{ {NOTE_FIELDS} }} }} }}
}}
"""

NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on Note {{ {NOTE_FIELDS} }} }} }}"

USER_ERRORS = "userErrors { field message code }"

ADD_CONTACT_NOTE = f"""
mutation ($input: AddContactNoteInput!) {{
  addContactNote(input: $input) {{
    note {{ {NOTE_FIELDS} }}
    contact {{ id notes(first: 100) {{ totalCount nodes {{ id }} }} }}
    {USER_ERRORS}
  }}
}}
"""

ADD_CONVERSATION_NOTE = f"""
mutation ($input: AddConversationNoteInput!) {{
  addConversationNote(input: $input) {{
    note {{ {NOTE_FIELDS} }}
    conversation {{ id notes(first: 100) {{ totalCount nodes {{ id }} }} }}
    {USER_ERRORS}
  }}
}}
"""

UPDATE_NOTE = f"""
mutation ($input: UpdateNoteInput!) {{
  updateNote(input: $input) {{ note {{ {NOTE_FIELDS} }} {USER_ERRORS} }}
}}
"""

DELETE_NOTE = f"""
mutation ($input: DeleteNoteInput!) {{
  deleteNote(input: $input) {{
    deletedNoteId
    contact {{ id notes(first: 100) {{ totalCount nodes {{ id }} }} }}
    conversation {{ id notes(first: 100) {{ totalCount nodes {{ id }} }} }}
    {USER_ERRORS}
  }}
}}
"""

RESTORE_NOTE = f"""
mutation ($input: RestoreNoteInput!) {{
  restoreNote(input: $input) {{ note {{ {NOTE_FIELDS} }} {USER_ERRORS} }}
}}
"""

# Mutations of one operation: each payload must see what the mutations before it wrote.
SEVERAL_MUTATIONS = """
mutation ($contact: ID!, $id: ID!) {
  added: addContactNote(input: {contactId: $contact, body: "another"}) {
    contact { notes(first: 100) { totalCount nodes { id body } } }
  }
  first: updateNote(input: {noteId: $id, body: "second"}) {
    note { version revisions { body } contact { notes(first: 100) { nodes { id body } } } }
  }
  second: updateNote(input: {noteId: $id, body: "third"}) {
    note { version revisions { body } contact { notes(first: 100) { nodes { id body } } } }
  }
  deleted: deleteNote(input: {noteId: $id}) {
    contact { notes(first: 100) { totalCount nodes { id } } }
  }
  restored: restoreNote(input: {noteId: $id}) {
    note { version body revisions { body } contact { notes(first: 100) { totalCount } } }
  }
}
"""

TOO_LONG_MESSAGE = "Body is at most 2,000 characters; this one has {:,}"
TOO_MANY_CODE_POINTS = "Body is at most 16,000 Unicode code points; this one has {:,}"


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def first_id(caller: GraphQL, query: str, field: str) -> str:
    found: str = (await caller(query)).data[field]["nodes"][0]["id"]
    return found


async def contact_of(org: Org) -> str:
    return await first_id(org.agent, FIRST_CONTACT, "contacts")


async def conversation_of(org: Org) -> str:
    return await first_id(org.agent, FIRST_CONVERSATION, "conversations")


async def contact_notes(caller: GraphQL, contact_id: str) -> dict[str, Any]:
    notes: dict[str, Any] = (await caller(CONTACT_NOTES, {"id": contact_id})).data["contact"][
        "notes"
    ]
    return notes


async def add_note(caller: GraphQL, contact_id: str, body: str) -> dict[str, Any]:
    reply = await caller(ADD_CONTACT_NOTE, {"input": {"contactId": contact_id, "body": body}})
    payload: dict[str, Any] = reply.data["addContactNote"]
    assert payload["userErrors"] == []
    note: dict[str, Any] = payload["note"]
    return note


async def update(caller: GraphQL, note_id: str, body: str, version: int | None = None) -> Any:
    given: dict[str, Any] = {"noteId": note_id, "body": body}
    if version is not None:
        given["expectedVersion"] = version
    return (await caller(UPDATE_NOTE, {"input": given})).data["updateNote"]


# --- adding --------------------------------------------------------------------------------


async def test_add_contact_note_stores_the_body_as_sent_and_lists_it_first(demo_org: Org) -> None:
    # given
    contact_id = await contact_of(demo_org)
    before = await contact_notes(demo_org.agent, contact_id)
    body = "  Prefers email over DM.\n"

    # when
    reply = await demo_org.agent(
        ADD_CONTACT_NOTE, {"input": {"contactId": contact_id, "body": body}}
    )

    # then
    payload = reply.data["addContactNote"]
    assert payload["userErrors"] == []
    note = payload["note"]
    assert note["body"] == body
    assert note["version"] == 1
    assert note["author"] == {"name": "Sam Agent"}
    assert note["updatedBy"] is None
    assert note["updatedAt"] == note["createdAt"]
    assert note["contact"] == {"id": contact_id}
    assert note["conversation"] is None
    assert note["revisions"] == []
    assert payload["contact"]["id"] == contact_id
    assert payload["contact"]["notes"]["totalCount"] == before["totalCount"] + 1
    assert payload["contact"]["notes"]["nodes"][0] == {"id": note["id"]}

    later = await add_note(demo_org.admin, contact_id, "Second note")
    after = await contact_notes(demo_org.agent, contact_id)
    assert after["totalCount"] == before["totalCount"] + 2
    assert [n["id"] for n in after["nodes"][:2]] == [later["id"], note["id"]]
    assert after["nodes"][1] == note
    assert after["nodes"][0]["author"] == {"name": "Alex Admin"}


async def test_add_conversation_note_is_listed_on_the_conversation_only(demo_org: Org) -> None:
    # given
    conversation_id = await conversation_of(demo_org)
    before = (await demo_org.agent(CONVERSATION_NOTES, {"id": conversation_id})).data

    # when
    reply = await demo_org.agent(
        ADD_CONVERSATION_NOTE, {"input": {"conversationId": conversation_id, "body": "Called"}}
    )

    # then
    payload = reply.data["addConversationNote"]
    assert payload["userErrors"] == []
    note = payload["note"]
    assert (note["body"], note["version"], note["author"]) == ("Called", 1, {"name": "Sam Agent"})
    assert note["conversation"] == {"id": conversation_id}
    assert note["contact"] is None
    notes = payload["conversation"]["notes"]
    assert notes["totalCount"] == before["conversation"]["notes"]["totalCount"] + 1
    assert notes["nodes"][0] == {"id": note["id"]}
    after = (await demo_org.agent(CONVERSATION_NOTES, {"id": conversation_id})).data
    assert after["conversation"]["notes"]["nodes"][0] == note


# --- body rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "a" * 2000,
        "😀" * 2000,  # one code point each
        "👍🏽" * 2000,  # two code points, one character each
        "👨‍👩‍👧" * 2000,  # five code points, one character each
        "e\u0301" * 2000,  # a letter and a combining accent: one character
        "line\r\n" * 400,  # CR LF is one character
        " " * 1999 + "x",
    ],
    ids=["ascii", "emoji", "skin-tone-emoji", "family-emoji", "combining", "crlf", "spaces"],
)
async def test_a_body_of_2000_characters_is_accepted(demo_org: Org, body: str) -> None:
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, body)
    assert note["body"] == body
    # The same characters backwards: still 2,000, and a different body.
    backwards = "".join(reversed(regex.findall(r"\X", body)))
    edited = await update(demo_org.agent, note["id"], backwards)
    assert edited["userErrors"] == []
    assert edited["note"]["body"] == backwards


BAD_BODIES = [
    ("", "BLANK", "Body must not be blank"),
    (" \n\t\u3000 ", "BLANK", "Body must not be blank"),
    ("a" * 2001, "TOO_LONG", TOO_LONG_MESSAGE.format(2001)),
    ("😀" * 2001, "TOO_LONG", TOO_LONG_MESSAGE.format(2001)),
    ("👍🏽" * 2001, "TOO_LONG", TOO_LONG_MESSAGE.format(2001)),
    ("e" + "\u0301" * 16_000, "TOO_LONG", TOO_MANY_CODE_POINTS.format(16_001)),
    ("before\x00after", "INVALID_VALUE", "Body must not contain NUL characters"),
    (
        "half a pair \ud83d here",
        "INVALID_VALUE",
        "Body must not contain lone surrogate code points (invalid UTF-16)",
    ),
]
BAD_BODY_IDS = [
    "empty",
    "whitespace",
    "2001",
    "2001-emoji",
    "2001-skin-tone",
    "one-character-of-16001-code-points",
    "nul",
    "surrogate",
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_BODIES, ids=BAD_BODY_IDS)
async def test_add_refuses_a_bad_body_before_touching_the_database(
    demo_org: Org, body: str, code: str, message: str
) -> None:
    # given
    contact_id = await contact_of(demo_org)
    before = await contact_notes(demo_org.agent, contact_id)

    # when
    reply = await demo_org.agent(
        ADD_CONTACT_NOTE, {"input": {"contactId": contact_id, "body": body}}
    )

    # then
    assert reply.status == 200
    assert reply.data["addContactNote"] == {
        "note": None,
        "contact": None,
        "userErrors": [{"field": ["input", "body"], "message": message, "code": code}],
    }
    assert reply.statements == 1  # authentication only
    assert await contact_notes(demo_org.agent, contact_id) == before


@pytest.mark.parametrize(("body", "code", "message"), BAD_BODIES, ids=BAD_BODY_IDS)
async def test_update_refuses_a_bad_body(demo_org: Org, body: str, code: str, message: str) -> None:
    # given
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.admin, contact_id, "Original")

    # when
    reply = await demo_org.agent(UPDATE_NOTE, {"input": {"noteId": note["id"], "body": body}})

    # then
    assert reply.data["updateNote"] == {
        "note": None,
        "userErrors": [{"field": ["input", "body"], "message": message, "code": code}],
    }
    assert reply.statements == 1
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == note


async def test_conversation_note_body_follows_the_same_rules(demo_org: Org) -> None:
    conversation_id = await conversation_of(demo_org)
    before = (await demo_org.agent(CONVERSATION_NOTES, {"id": conversation_id})).data
    reply = await demo_org.agent(
        ADD_CONVERSATION_NOTE, {"input": {"conversationId": conversation_id, "body": "x" * 2001}}
    )
    assert reply.data["addConversationNote"]["userErrors"] == [
        {"field": ["input", "body"], "message": TOO_LONG_MESSAGE.format(2001), "code": "TOO_LONG"}
    ]
    assert (await demo_org.agent(CONVERSATION_NOTES, {"id": conversation_id})).data == before


# --- editing ---------------------------------------------------------------------------------


async def test_any_agent_edits_any_note_and_every_edit_keeps_a_revision(demo_org: Org) -> None:
    # given a note written by the admin
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.admin, contact_id, "First")

    # when the agent (neither author nor admin) edits it, then the admin, without a version
    first = await update(demo_org.agent, note["id"], "Second", version=1)
    second = await update(demo_org.admin, note["id"], "Third")

    # then
    assert first["userErrors"] == []
    assert (first["note"]["body"], first["note"]["version"]) == ("Second", 2)
    assert first["note"]["updatedBy"] == {"name": "Sam Agent"}
    assert first["note"]["author"] == {"name": "Alex Admin"}
    assert moment(first["note"]["updatedAt"]) > moment(note["updatedAt"])
    assert second["userErrors"] == []
    edited = second["note"]
    assert (edited["body"], edited["version"]) == ("Third", 3)
    assert edited["updatedBy"] == {"name": "Alex Admin"}
    assert edited["createdAt"] == note["createdAt"]
    revisions = edited["revisions"]
    assert [(r["body"], r["editedBy"]["name"]) for r in revisions] == [
        ("First", "Sam Agent"),
        ("Second", "Alex Admin"),
    ]
    assert revisions[0]["editedAt"] == first["note"]["updatedAt"]
    assert revisions[1]["editedAt"] == edited["updatedAt"]
    listed = await contact_notes(demo_org.agent, contact_id)
    assert listed["nodes"][0] == edited
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == edited


async def test_the_same_body_again_changes_nothing(demo_org: Org) -> None:
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, " Same ")

    reply = await update(demo_org.admin, note["id"], " Same ", version=1)

    assert reply == {"note": note, "userErrors": []}
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == note


async def test_a_stale_version_conflicts_and_returns_the_current_note(demo_org: Org) -> None:
    # given a note someone has edited to version 2
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, "Draft")
    current = (await update(demo_org.admin, note["id"], "Admin's words", version=1))["note"]

    # when an agent saves an edit based on version 1
    reply = await update(demo_org.agent, note["id"], "Agent's words", version=1)

    # then
    assert reply == {
        "note": current,
        "userErrors": [
            {
                "field": ["input", "expectedVersion"],
                "message": "The note is at version 2, not 1: someone else edited it; "
                "nothing was changed",
                "code": "VERSION_CONFLICT",
            }
        ],
    }
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == current
    # a newer-than-current version conflicts too, and the same body is no way around it
    ahead = await update(demo_org.agent, note["id"], "Admin's words", version=3)
    assert [e["code"] for e in ahead["userErrors"]] == ["VERSION_CONFLICT"]
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == current


async def test_a_version_below_one_is_invalid(demo_org: Org) -> None:
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, "Text")
    reply = await update(demo_org.agent, note["id"], "Other", version=0)
    assert reply == {
        "note": None,
        "userErrors": [
            {
                "field": ["input", "expectedVersion"],
                "message": "Versions start at 1",
                "code": "INVALID_VALUE",
            }
        ],
    }
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == note


async def test_mutations_later_in_an_operation_see_earlier_ones(demo_org: Org) -> None:
    # given
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, "first")
    count = (await contact_notes(demo_org.agent, contact_id))["totalCount"]

    # when
    data = (await demo_org.agent(SEVERAL_MUTATIONS, {"contact": contact_id, "id": note["id"]})).data

    # then
    added = data["added"]["contact"]["notes"]
    assert added["totalCount"] == count + 1
    assert {"id": note["id"], "body": "first"} in added["nodes"]
    first, second = data["first"]["note"], data["second"]["note"]
    assert (first["version"], first["revisions"]) == (2, [{"body": "first"}])
    assert {"id": note["id"], "body": "second"} in first["contact"]["notes"]["nodes"]
    assert (second["version"], second["revisions"]) == (3, [{"body": "first"}, {"body": "second"}])
    assert {"id": note["id"], "body": "third"} in second["contact"]["notes"]["nodes"]
    deleted_notes = data["deleted"]["contact"]["notes"]
    assert deleted_notes["totalCount"] == count
    assert {"id": note["id"]} not in deleted_notes["nodes"]
    restored = data["restored"]["note"]
    assert (restored["version"], restored["body"]) == (3, "third")
    assert restored["revisions"] == [{"body": "first"}, {"body": "second"}]
    assert restored["contact"]["notes"]["totalCount"] == count + 1


# --- deleting and restoring ------------------------------------------------------------------


async def test_delete_and_restore_cycle(demo_org: Org) -> None:
    # given an edited note by the admin
    contact_id = await contact_of(demo_org)
    note = await add_note(demo_org.admin, contact_id, "Keep me")
    edited = (await update(demo_org.admin, note["id"], "Keep me, edited"))["note"]
    listed = await contact_notes(demo_org.agent, contact_id)

    # when the agent deletes it
    reply = await demo_org.agent(DELETE_NOTE, {"input": {"noteId": note["id"]}})

    # then it is gone from the list, the count and node()
    payload = reply.data["deleteNote"]
    assert payload["userErrors"] == []
    assert payload["deletedNoteId"] == note["id"]
    assert payload["conversation"] is None
    assert payload["contact"]["id"] == contact_id
    assert payload["contact"]["notes"]["totalCount"] == listed["totalCount"] - 1
    assert {"id": note["id"]} not in payload["contact"]["notes"]["nodes"]
    after_delete = await contact_notes(demo_org.admin, contact_id)
    assert after_delete["totalCount"] == listed["totalCount"] - 1
    assert note["id"] not in [n["id"] for n in after_delete["nodes"]]
    assert (await demo_org.admin(NODE, {"id": note["id"]})).data["node"] is None

    # deleting it again, or editing it, is refused and changes nothing
    again = await demo_org.admin(DELETE_NOTE, {"input": {"noteId": note["id"]}})
    assert again.data["deleteNote"] == {
        "deletedNoteId": None,
        "contact": None,
        "conversation": None,
        "userErrors": [
            {
                "field": ["input", "noteId"],
                "message": "The note is already deleted",
                "code": "INVALID_VALUE",
            }
        ],
    }
    refused = await update(demo_org.agent, note["id"], "Sneaky edit")
    assert refused == {
        "note": None,
        "userErrors": [
            {
                "field": ["input", "noteId"],
                "message": "The note is deleted; restore it before editing it",
                "code": "INVALID_VALUE",
            }
        ],
    }
    assert await contact_notes(demo_org.admin, contact_id) == after_delete

    # when another agent restores it, it is back as it was, revisions included
    restored = await demo_org.admin(RESTORE_NOTE, {"input": {"noteId": note["id"]}})
    assert restored.data["restoreNote"] == {"note": edited, "userErrors": []}
    assert await contact_notes(demo_org.agent, contact_id) == listed
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == edited

    # restoring a live note is refused and changes nothing
    live = await demo_org.agent(RESTORE_NOTE, {"input": {"noteId": note["id"]}})
    assert live.data["restoreNote"] == {
        "note": None,
        "userErrors": [
            {
                "field": ["input", "noteId"],
                "message": "The note is not deleted",
                "code": "INVALID_VALUE",
            }
        ],
    }
    assert await contact_notes(demo_org.agent, contact_id) == listed


async def test_deleting_a_conversation_note_returns_the_conversation(demo_org: Org) -> None:
    conversation_id = await conversation_of(demo_org)
    added = await demo_org.admin(
        ADD_CONVERSATION_NOTE, {"input": {"conversationId": conversation_id, "body": "Bye"}}
    )
    note = added.data["addConversationNote"]["note"]
    count = added.data["addConversationNote"]["conversation"]["notes"]["totalCount"]

    payload = (await demo_org.agent(DELETE_NOTE, {"input": {"noteId": note["id"]}})).data[
        "deleteNote"
    ]

    assert payload["deletedNoteId"] == note["id"]
    assert payload["contact"] is None
    assert payload["conversation"]["id"] == conversation_id
    assert payload["conversation"]["notes"]["totalCount"] == count - 1
    listed = (await demo_org.agent(CONVERSATION_NOTES, {"id": conversation_id})).data
    assert note["id"] not in [n["id"] for n in listed["conversation"]["notes"]["nodes"]]


# --- ids that are not this organisation's ----------------------------------------------------


async def test_unknown_ids_are_not_found_alike(demo_org: Org, other_org: Org) -> None:
    # given ids that are malformed, of another type, unknown, or of the other organisation
    contact_id = await contact_of(demo_org)
    conversation_id = await conversation_of(demo_org)
    note = await add_note(demo_org.agent, contact_id, "Ours")
    foreign_contact = await contact_of(other_org)
    foreign_conversation = await conversation_of(other_org)
    foreign_note = await add_note(other_org.agent, foreign_contact, "Theirs")
    # "Tm90ZTphYmM" is "Note:abc" encoded
    bad_ids = ["", "nope", "Tm90ZTphYmM", ids.encode("Note", 10**15)]
    cases = [
        (
            ADD_CONTACT_NOTE,
            "contactId",
            [*bad_ids, conversation_id, foreign_contact],
            {"body": "x"},
        ),
        (
            ADD_CONVERSATION_NOTE,
            "conversationId",
            [*bad_ids, contact_id, foreign_conversation],
            {"body": "x"},
        ),
        (UPDATE_NOTE, "noteId", [*bad_ids, contact_id, foreign_note["id"]], {"body": "x"}),
        (DELETE_NOTE, "noteId", [*bad_ids, contact_id, foreign_note["id"]], {}),
        (RESTORE_NOTE, "noteId", [*bad_ids, contact_id, foreign_note["id"]], {}),
    ]
    ours_before = await contact_notes(demo_org.agent, contact_id)
    theirs_before = await contact_notes(other_org.agent, foreign_contact)

    for mutation, field, given_ids, rest in cases:
        # when
        replies = [
            (await demo_org.agent(mutation, {"input": {field: given, **rest}})).data
            for given in given_ids
        ]

        # then every answer is the same NOT_FOUND
        assert all(reply == replies[0] for reply in replies), (mutation, replies)
        (payload,) = replies[0].values()
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", field], "NOT_FOUND")
        ]

    assert await contact_notes(demo_org.agent, contact_id) == ours_before
    assert await contact_notes(other_org.agent, foreign_contact) == theirs_before
    assert (await other_org.agent(NODE, {"id": foreign_note["id"]})).data["node"] == foreign_note
    assert (await demo_org.agent(NODE, {"id": note["id"]})).data["node"] == note


async def test_not_found_and_a_bad_body_are_reported_together(demo_org: Org) -> None:
    reply = await demo_org.agent(UPDATE_NOTE, {"input": {"noteId": "nope", "body": " "}})
    assert reply.data["updateNote"]["userErrors"] == [
        {"field": ["input", "noteId"], "message": "No note with this id", "code": "NOT_FOUND"},
        {"field": ["input", "body"], "message": "Body must not be blank", "code": "BLANK"},
    ]
