"""Keyset pagination of every connection: both ends, both directions, ties, page-size
limits and cursors that are not this list's."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests.bulk import (
    add_bulk_contacts,
    add_contact,
    add_conversation,
    add_message,
    add_note,
    minutes,
)
from tests.conftest import GraphQL, Org

PAGE = """
fragment Page on PageInfo { hasNextPage hasPreviousPage startCursor endCursor }
"""

CONTACTS = (
    """
query Contacts($first: Int, $after: String, $last: Int, $before: String, $search: String,
               $isVip: Boolean) {
  list: contacts(first: $first, after: $after, last: $last, before: $before, search: $search,
                 isVip: $isVip) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { ...Page }
  }
}
"""
    + PAGE
)

CONVERSATIONS = (
    """
query Conversations($first: Int, $after: String, $last: Int, $before: String,
                    $orderBy: ConversationOrder!) {
  list: conversations(first: $first, after: $after, last: $last, before: $before,
                      orderBy: $orderBy) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { ...Page }
  }
}
"""
    + PAGE
)

CONTACT_NOTES = (
    """
query ContactNotes($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  contact(id: $id) {
    list: notes(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { id } }
      nodes { id }
      pageInfo { ...Page }
    }
  }
}
"""
    + PAGE
)

CONTACT_CONVERSATIONS = (
    """
query ContactConversations($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  contact(id: $id) {
    list: conversations(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { id } }
      nodes { id }
      pageInfo { ...Page }
    }
  }
}
"""
    + PAGE
)

MESSAGES = (
    """
query Messages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  conversation(id: $id) {
    list: messages(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { id } }
      nodes { id }
      pageInfo { ...Page }
    }
  }
}
"""
    + PAGE
)

CONVERSATION_NOTES = (
    """
query ConversationNotes($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  conversation(id: $id) {
    list: notes(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { id } }
      nodes { id }
      pageInfo { ...Page }
    }
  }
}
"""
    + PAGE
)

NESTED_NOTES_OF_CONTACTS = """
query NestedNotes($first: Int, $last: Int) {
  contacts(first: 1) { nodes { notes(first: $first, last: $last) { nodes { id } } } }
}
"""

NO_PAGE_INFO = {
    "hasNextPage": False,
    "hasPreviousPage": False,
    "startCursor": None,
    "endCursor": None,
}


def _connection(data: dict[str, Any]) -> dict[str, Any]:
    """The connection aliased `list`, at the top level or under the one parent object."""
    if "list" in data:
        connection: dict[str, Any] = data["list"]
        return connection
    (parent,) = data.values()
    nested: dict[str, Any] = parent["list"]
    return nested


async def _page(call: GraphQL, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One page, checked for the invariants every page keeps."""
    page = _connection((await call(query, variables)).data)
    edges = page["edges"]
    assert page["nodes"] == [edge["node"] for edge in edges]
    assert page["pageInfo"]["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert page["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [node["id"] for node in page["nodes"]]


async def _walk(
    call: GraphQL, query: str, variables: dict[str, Any], *, size: int
) -> tuple[list[str], list[str]]:
    """Every id of the list, once paging forwards from the start and once backwards from
    the end (returned in list order), asserting pageInfo at each step."""
    forwards: list[str] = []
    after = None
    while True:
        page = await _page(call, query, {**variables, "first": size, "after": after})
        info = page["pageInfo"]
        assert info["hasPreviousPage"] == (after is not None)
        forwards += _ids(page)
        if not info["hasNextPage"]:
            assert len(page["nodes"]) <= size
            break
        assert len(page["nodes"]) == size
        after = info["endCursor"]
    backwards: list[str] = []
    before = None
    while True:
        page = await _page(call, query, {**variables, "last": size, "before": before})
        info = page["pageInfo"]
        assert info["hasNextPage"] == (before is not None)
        backwards = _ids(page) + backwards
        if not info["hasPreviousPage"]:
            assert len(page["nodes"]) <= size
            break
        assert len(page["nodes"]) == size
        before = info["startCursor"]
    return forwards, backwards


async def _contact_ids_by_name(owner: asyncpg.Connection, organization_id: int) -> list[str]:
    rows = await owner.fetch(
        "SELECT id FROM contacts WHERE organization_id = $1 ORDER BY name, id", organization_id
    )
    return [ids.encode("Contact", row["id"]) for row in rows]


def _tampered(cursor: str, change: Any) -> str:
    """A cursor whose JSON content went through `change`."""
    values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw = json.dumps(change(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_an_empty_list_has_no_edges_in_either_direction(demo_org: Org) -> None:
    for size in ({"first": 5}, {"last": 5}, {}):
        # when
        page = await _page(demo_org.agent, CONTACTS, {"search": "no contact has this", **size})

        # then
        assert page["edges"] == []
        assert page["pageInfo"] == NO_PAGE_INFO
        assert page["totalCount"] == 0


async def test_an_empty_nested_list(owner: asyncpg.Connection, demo_org: Org) -> None:
    contact_id = await add_contact(owner, demo_org.id, name="Nobody Wrote")
    variables = {"id": ids.encode("Contact", contact_id)}
    for query in (CONTACT_NOTES, CONTACT_CONVERSATIONS):
        for size in ({"first": 5}, {"last": 5}):
            page = await _page(demo_org.agent, query, {**variables, **size})
            assert page["edges"] == []
            assert page["pageInfo"] == NO_PAGE_INFO
            assert page["totalCount"] == 0


async def test_the_default_page_is_the_first_twenty(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    expected = await _contact_ids_by_name(owner, demo_org.id)
    assert len(expected) == 50

    page = await _page(demo_org.agent, CONTACTS, {})

    assert _ids(page) == expected[:20]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["totalCount"] == 50


async def test_exactly_one_page(owner: asyncpg.Connection, demo_org: Org) -> None:
    expected = await _contact_ids_by_name(owner, demo_org.id)

    for size in ({"first": 50}, {"last": 50}):
        page = await _page(demo_org.agent, CONTACTS, size)
        assert _ids(page) == expected
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["pageInfo"]["hasPreviousPage"] is False

    # one short of the whole list: the far side says so
    forwards = await _page(demo_org.agent, CONTACTS, {"first": 49})
    assert forwards["pageInfo"]["hasNextPage"] is True
    backwards = await _page(demo_org.agent, CONTACTS, {"last": 49})
    assert backwards["pageInfo"]["hasPreviousPage"] is True
    assert _ids(backwards) == expected[1:]


async def test_forwards_to_the_last_page_then_backwards_to_the_first(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    expected = await _contact_ids_by_name(owner, demo_org.id)
    call = demo_org.agent

    # forwards: 20, 20, then the last 10
    first = await _page(call, CONTACTS, {"first": 20})
    second = await _page(call, CONTACTS, {"first": 20, "after": first["pageInfo"]["endCursor"]})
    last = await _page(call, CONTACTS, {"first": 20, "after": second["pageInfo"]["endCursor"]})
    assert _ids(first) + _ids(second) + _ids(last) == expected
    assert last["pageInfo"] == {
        **last["pageInfo"],
        "hasNextPage": False,
        "hasPreviousPage": True,
    }
    assert len(_ids(last)) == 10

    # backwards from the last page's start: the second page, then the first
    back = await _page(call, CONTACTS, {"last": 20, "before": last["pageInfo"]["startCursor"]})
    assert _ids(back) == _ids(second)
    assert back["pageInfo"]["hasNextPage"] is True
    assert back["pageInfo"]["hasPreviousPage"] is True
    front = await _page(call, CONTACTS, {"last": 20, "before": back["pageInfo"]["startCursor"]})
    assert _ids(front) == _ids(first)
    assert front["pageInfo"]["hasPreviousPage"] is False
    assert front["pageInfo"]["hasNextPage"] is True

    # between two cursors
    middle = await _page(
        call,
        CONTACTS,
        {
            "first": 100,
            "after": first["pageInfo"]["endCursor"],
            "before": last["pageInfo"]["startCursor"],
        },
    )
    assert _ids(middle) == _ids(second)

    # the total does not depend on the page
    assert {first["totalCount"], second["totalCount"], last["totalCount"]} == {50}


async def test_last_without_a_cursor_is_the_end_of_the_list(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    expected = await _contact_ids_by_name(owner, demo_org.id)

    page = await _page(demo_org.agent, CONTACTS, {"last": 20})

    assert _ids(page) == expected[-20:]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is True


async def test_a_page_of_zero_only_says_whether_there_is_more(demo_org: Org) -> None:
    page = await _page(demo_org.agent, CONTACTS, {"first": 0})

    assert page["edges"] == []
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 50


async def test_filters_hold_on_every_page_and_in_the_total(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    rows = await owner.fetch(
        "SELECT id FROM contacts WHERE organization_id = $1 AND is_vip ORDER BY name, id",
        demo_org.id,
    )
    expected = [ids.encode("Contact", row["id"]) for row in rows]
    assert len(expected) > 3

    forwards, backwards = await _walk(demo_org.agent, CONTACTS, {"isVip": True}, size=3)

    assert forwards == backwards == expected
    page = await _page(demo_org.agent, CONTACTS, {"isVip": True, "first": 1})
    assert page["totalCount"] == len(expected)


async def test_contacts_with_the_same_name_page_in_id_order(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    for n in range(23):
        await add_contact(owner, demo_org.id, name="Mia Tie", handle=f"tie{n}")
    expected = await _contact_ids_by_name(owner, demo_org.id)

    for size in (4, 7):
        forwards, backwards = await _walk(demo_org.agent, CONTACTS, {}, size=size)
        assert forwards == backwards == expected


async def test_names_beyond_ascii_page_both_ways(owner: asyncpg.Connection, demo_org: Org) -> None:
    # Cursors carry the name of their row: accents, other scripts and emoji included.
    names = ["Zoë", "Åsa", "Émile", "Łukasz", "Ümit", "Ђорђе", "李雷", "😀 Bob", "e\u0301 Mia"]
    for n, name in enumerate(names * 2):
        await add_contact(owner, demo_org.id, name=name, handle=f"intl{n}")
    expected = await _contact_ids_by_name(owner, demo_org.id)

    for size in (3, 5):
        forwards, backwards = await _walk(demo_org.agent, CONTACTS, {}, size=size)
        assert forwards == backwards == expected


async def test_conversations_with_equal_sort_keys_page_in_id_order(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: twelve conversations with one priority and one last message time
    contact_id = await add_contact(owner, demo_org.id, name="Tied Waiting")
    for _ in range(12):
        await add_conversation(owner, demo_org.id, contact_id, last_message_at=minutes(5))
    queue = await owner.fetch(
        "SELECT id FROM conversations WHERE organization_id = $1"
        " ORDER BY priority DESC, last_message_at, id",
        demo_org.id,
    )
    newest = await owner.fetch(
        "SELECT id FROM conversations WHERE organization_id = $1"
        " ORDER BY last_message_at DESC, id DESC",
        demo_org.id,
    )

    for order, rows in (("QUEUE", queue), ("NEWEST", newest)):
        # when
        forwards, backwards = await _walk(demo_org.agent, CONVERSATIONS, {"orderBy": order}, size=9)

        # then
        expected = [ids.encode("Conversation", row["id"]) for row in rows]
        assert forwards == backwards == expected


async def test_nested_lists_page_both_ways_under_ties(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: a contact with eleven notes and eight conversations, one of which has nine
    # messages and seven notes, all sharing their timestamps
    contact_id = await add_contact(owner, demo_org.id, name="Many Things")
    contact_notes = [
        await add_note(owner, demo_org.id, demo_org.agent_id, contact_id=contact_id)
        for _ in range(11)
    ]
    conversations = [
        await add_conversation(owner, demo_org.id, contact_id, last_message_at=minutes(1))
        for _ in range(8)
    ]
    conversation_id = conversations[0]
    messages = [
        await add_message(owner, demo_org.id, conversation_id, sent_at=minutes(2)) for _ in range(9)
    ]
    conversation_notes = [
        await add_note(owner, demo_org.id, demo_org.admin_id, conversation_id=conversation_id)
        for _ in range(7)
    ]
    contact = {"id": ids.encode("Contact", contact_id)}
    conversation = {"id": ids.encode("Conversation", conversation_id)}

    cases = (
        (CONTACT_NOTES, contact, [ids.encode("Note", i) for i in reversed(contact_notes)]),
        (
            CONTACT_CONVERSATIONS,
            contact,
            [ids.encode("Conversation", i) for i in reversed(conversations)],
        ),
        (MESSAGES, conversation, [ids.encode("Message", i) for i in messages]),
        (
            CONVERSATION_NOTES,
            conversation,
            [ids.encode("Note", i) for i in reversed(conversation_notes)],
        ),
    )
    for query, variables, expected in cases:
        for size in (2, 3):
            forwards, backwards = await _walk(demo_org.agent, query, variables, size=size)
            assert forwards == backwards == expected
        page = await _page(demo_org.agent, query, {**variables, "first": 1})
        assert page["totalCount"] == len(expected)


async def test_one_hundred_is_the_largest_page(owner: asyncpg.Connection, demo_org: Org) -> None:
    await add_bulk_contacts(owner, demo_org.id, demo_org.agent_id, count=60)
    expected = await _contact_ids_by_name(owner, demo_org.id)

    forwards = await _page(demo_org.agent, CONTACTS, {"first": 100})
    backwards = await _page(demo_org.agent, CONTACTS, {"last": 100})

    assert _ids(forwards) == expected[:100]
    assert forwards["pageInfo"]["hasNextPage"] is True
    assert _ids(backwards) == expected[-100:]
    assert backwards["pageInfo"]["hasPreviousPage"] is True
    assert forwards["totalCount"] == 110


@pytest.mark.parametrize(
    "size",
    [{"first": 101}, {"last": 101}, {"first": -1}, {"last": -1}, {"first": 1, "last": 1}],
    ids=["first 101", "last 101", "first -1", "last -1", "first and last"],
)
async def test_page_sizes_outside_the_limits_are_refused(
    demo_org: Org, size: dict[str, int]
) -> None:
    for query, variables in (
        (CONTACTS, {}),
        (CONVERSATIONS, {"orderBy": "QUEUE"}),
        (NESTED_NOTES_OF_CONTACTS, {}),
    ):
        reply = await demo_org.agent(query, {**variables, **size})

        assert reply.status == 200
        assert reply.codes == ["BAD_USER_INPUT"]
        assert reply.body["data"] is None


def _malformed(cursor: str) -> list[str]:
    return [
        "",
        "not a cursor",
        "!!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        cursor[:-3],
        base64.urlsafe_b64encode(b"[" * 3000).decode(),
        cursor * 200,
        cursor + "x",
        _tampered(cursor, lambda values: values[:-1]),
        _tampered(cursor, lambda values: [*values, 1]),
        _tampered(cursor, lambda values: [*values[:-1], "1"]),
        _tampered(cursor, lambda values: [*values[:-1], 1.5]),
        _tampered(cursor, lambda values: [*values[:-1], True]),
        _tampered(cursor, lambda values: [*values[:-1], None]),
        _tampered(cursor, lambda values: [*values[:-1], 2**63]),
        _tampered(cursor, lambda values: [*values[:-1], -(2**63) - 1]),
    ]


async def test_malformed_cursors_are_refused(owner: asyncpg.Connection, demo_org: Org) -> None:
    call = demo_org.agent
    contact = await _page(call, CONTACTS, {"first": 1})
    conversation_id = await owner.fetchval(
        "SELECT conversation_id FROM messages WHERE organization_id = $1 LIMIT 1", demo_org.id
    )
    message = await _page(
        call, MESSAGES, {"id": ids.encode("Conversation", conversation_id), "first": 1}
    )
    queue = await _page(call, CONVERSATIONS, {"first": 1, "orderBy": "QUEUE"})

    for query, variables, cursor in (
        (CONTACTS, {}, contact["pageInfo"]["endCursor"]),
        (
            MESSAGES,
            {"id": ids.encode("Conversation", conversation_id)},
            message["edges"][0]["cursor"],
        ),
        (CONVERSATIONS, {"orderBy": "QUEUE"}, queue["pageInfo"]["endCursor"]),
    ):
        for bad in _malformed(cursor):
            for argument in ("after", "before"):
                reply = await call(query, {**variables, argument: bad, "first": 5})
                assert reply.codes == ["BAD_USER_INPUT"], (bad, argument)


async def test_tampered_text_and_times_in_cursors_are_refused(demo_org: Org) -> None:
    call = demo_org.agent
    contact = (await _page(call, CONTACTS, {"first": 1}))["pageInfo"]["endCursor"]
    newest = (await _page(call, CONVERSATIONS, {"first": 1, "orderBy": "NEWEST"}))["pageInfo"][
        "endCursor"
    ]

    # Both lists end their keys with (text or time, id).
    def key_text(text: str) -> Any:
        return lambda values: [*values[:-2], text, values[-1]]

    def key_time(change: Any) -> Any:
        return lambda values: [*values[:-2], change(values[-2]), values[-1]]

    for query, variables, bad in (
        (CONTACTS, {}, _tampered(contact, key_text("Ada\x00"))),
        (CONTACTS, {}, _tampered(contact, key_text("Ada\ud800"))),
        (CONVERSATIONS, {"orderBy": "NEWEST"}, _tampered(newest, key_time(lambda t: t[:19]))),
        (CONVERSATIONS, {"orderBy": "NEWEST"}, _tampered(newest, key_time(lambda t: t + "x"))),
        (CONVERSATIONS, {"orderBy": "NEWEST"}, _tampered(newest, key_time(lambda t: 1.5))),
    ):
        reply = await call(query, {**variables, "after": bad, "first": 5})
        assert reply.codes == ["BAD_USER_INPUT"], bad


async def test_cursors_of_another_list_are_refused(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    # given: a cursor of every kind of list
    call = demo_org.agent
    contact_id = await owner.fetchval(
        "SELECT contact_id FROM notes WHERE organization_id = $1 AND contact_id IS NOT NULL"
        " LIMIT 1",
        demo_org.id,
    )
    conversation_id = await owner.fetchval(
        "SELECT conversation_id FROM notes WHERE organization_id = $1"
        " AND conversation_id IS NOT NULL LIMIT 1",
        demo_org.id,
    )
    contact = {"id": ids.encode("Contact", contact_id)}
    conversation = {"id": ids.encode("Conversation", conversation_id)}
    lists = {
        "contacts": (CONTACTS, {}),
        "queue": (CONVERSATIONS, {"orderBy": "QUEUE"}),
        "newest": (CONVERSATIONS, {"orderBy": "NEWEST"}),
        "contact notes": (CONTACT_NOTES, contact),
        "contact conversations": (CONTACT_CONVERSATIONS, contact),
        "messages": (MESSAGES, conversation),
        "conversation notes": (CONVERSATION_NOTES, conversation),
    }
    cursors = {}
    for name, (query, variables) in lists.items():
        page = await _page(call, query, {**variables, "first": 1})
        cursors[name] = page["pageInfo"]["endCursor"]
        assert cursors[name] is not None

    # Lists of one kind of row in one order share their cursors: a contact's notes and a
    # conversation's notes, a contact's conversations and the newest-first list.
    same_order = {
        frozenset({"contact notes", "conversation notes"}),
        frozenset({"contact conversations", "newest"}),
    }
    for name, (query, variables) in lists.items():
        for other, cursor in cursors.items():
            reply = await call(query, {**variables, "after": cursor, "first": 5})
            if other == name or frozenset({name, other}) in same_order:
                assert reply.errors == [], (name, other)
            else:
                assert reply.codes == ["BAD_USER_INPUT"], (name, other)


def test_a_page_s_limit_is_written_into_its_statement() -> None:
    from db.keyset import Window, page_sql

    page = page_sql(
        ("name", "id"), descending=False, window=Window(limit=21, after=("Ann", 7)), first_param=2
    )

    # Statements are planned once for any parameters (db/pool.py): a LIMIT given as a
    # parameter would be planned as if it were a tenth of the table.
    assert page.limit == "21"
    assert page.condition == " AND (name, id) > ($2, $3)"
    assert page.params == ["Ann", 7]
    with pytest.raises(ValueError, match="negative"):
        page_sql(("id",), descending=True, window=Window(limit=-1), first_param=2)
