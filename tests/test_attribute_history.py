"""A page of contacts reads their attribute values without their history (who set each
value, and when) where no selection of their `attributes` shows it; every listing of
attributes still answers `updatedAt` and `updatedBy` wherever they are asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from db import contacts as contacts_db
from db import conversations as conversations_db
from db.attributes import ValuesRead
from tests.attributes import attribute, clear_value, read_contact, set_value
from tests.conftest import Org

# The queue's contacts with their attributes, and the same contacts again through each
# conversation's last message, there with the values' history.
QUEUE = """
query ($history: Boolean!) {
  conversations(first: 100) {
    nodes {
      contact { id attributes { key value } }
      lastMessage {
        conversation { contact { id attributes @include(if: $history) { key updatedAt } } }
      }
    }
  }
}
"""

QUEUE_WITH_HISTORY = """
{
  conversations(first: 100) {
    nodes { contact { id attributes { key value updatedAt updatedBy { name } } } }
  }
}
"""

CONTACTS = """
query ($search: String) {
  contacts(first: 100, search: $search) {
    nodes { id listed: attributes { key value } }
  }
}
"""

CONTACTS_WITH_HISTORY = """
query ($search: String) {
  contacts(first: 100, search: $search) {
    nodes { id ...shown }
  }
}
fragment shown on Contact { attributes { key value updatedAt } }
"""


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[ValuesRead]:
    """What each page of conversations or contacts read of the attribute values."""
    found: list[ValuesRead] = []

    def spy(page: Callable[..., Any]) -> Callable[..., Any]:
        async def read(*args: Any, **kwargs: Any) -> Any:
            found.append(kwargs["values"])
            return await page(*args, **kwargs)

        return read

    monkeypatch.setattr(
        conversations_db, "page_conversations", spy(conversations_db.page_conversations)
    )
    monkeypatch.setattr(contacts_db, "page_contacts", spy(contacts_db.page_contacts))
    return found


def _contacts(reply: Any, *path: str) -> dict[str, dict[str, Any]]:
    """The contacts of a page, by id."""
    found = reply.data
    for name in path:
        found = found[name]
    return {contact["id"]: contact for contact in found["nodes"]}


async def _first_in_queue(org: Org) -> str:
    reply = await org.agent(QUEUE, {"history": False})
    contact: str = reply.data["conversations"]["nodes"][0]["contact"]["id"]
    return contact


async def test_a_page_lists_the_values_it_reads_without_their_history(
    demo_org: Org, reads: list[ValuesRead]
) -> None:
    contact = await _first_in_queue(demo_org)
    await set_value(demo_org.agent, contact, "location", "Oslo")
    await clear_value(demo_org.admin, contact, "email")
    panel = await read_contact(demo_org.agent, contact)
    reads.clear()

    queue = await demo_org.agent(QUEUE, {"history": False})
    shown = [node["contact"] for node in queue.data["conversations"]["nodes"]]
    with_history = await demo_org.agent(QUEUE_WITH_HISTORY)

    assert reads == [ValuesRead.TEXTS, ValuesRead.FULL]
    # The values, cleared ones as null, as the contact's own page lists them.
    listed = next(c for c in shown if c["id"] == contact)["attributes"]
    assert listed == [{"key": a["key"], "value": a["value"]} for a in panel["attributes"]]
    assert {"key": "location", "value": "Oslo"} in listed
    assert {"key": "email", "value": None} in listed
    # And as a page that reads the history lists them, contact by contact.
    for found in shown:
        full = next(
            node["contact"]
            for node in with_history.data["conversations"]["nodes"]
            if node["contact"]["id"] == found["id"]
        )
        assert found["attributes"] == [
            {"key": a["key"], "value": a["value"]} for a in full["attributes"]
        ]
    # Both pages cost the same statements: authentication, the page, the definitions.
    assert queue.statements == with_history.statements == 3


async def test_a_page_that_shows_the_history_reads_it(demo_org: Org) -> None:
    contact = await _first_in_queue(demo_org)
    await set_value(demo_org.agent, contact, "location", "Oslo")
    await clear_value(demo_org.admin, contact, "email")
    panel = await read_contact(demo_org.agent, contact)

    reply = await demo_org.agent(QUEUE_WITH_HISTORY)

    listed = next(
        node["contact"]
        for node in reply.data["conversations"]["nodes"]
        if node["contact"]["id"] == contact
    )
    assert attribute(listed, "location")["updatedBy"] == {"name": "Sam Agent"}
    assert attribute(listed, "email")["updatedBy"] == {"name": "Alex Admin"}
    assert attribute(listed, "email")["value"] is None
    for key in ("location", "email"):
        assert attribute(listed, key)["updatedAt"] == attribute(panel, key)["updatedAt"]
        assert attribute(listed, key)["updatedAt"] is not None


async def test_the_history_asked_for_elsewhere_in_the_document_is_read_for_it(
    demo_org: Org,
) -> None:
    contact = await _first_in_queue(demo_org)
    await set_value(demo_org.agent, contact, "location", "Oslo")
    panel = await read_contact(demo_org.agent, contact)

    without = await demo_org.agent(QUEUE, {"history": False})
    reply = await demo_org.agent(QUEUE, {"history": True})

    nodes = reply.data["conversations"]["nodes"]
    node = next(n for n in nodes if n["contact"]["id"] == contact)
    again = node["lastMessage"]["conversation"]["contact"]
    assert again["id"] == contact
    assert [(a["key"], a["updatedAt"]) for a in again["attributes"]] == [
        (a["key"], a["updatedAt"]) for a in panel["attributes"]
    ]
    assert attribute(again, "location")["updatedAt"] is not None
    # The page read the values alone for its own listing; the history came with one more
    # statement, for every contact of the page at once.
    assert node["contact"]["attributes"] == [
        {"key": a["key"], "value": a["value"]} for a in panel["attributes"]
    ]
    assert reply.statements == without.statements + 1


async def test_pages_of_contacts_read_the_history_only_where_it_is_shown(
    demo_org: Org, reads: list[ValuesRead]
) -> None:
    contact = await _first_in_queue(demo_org)
    await set_value(demo_org.agent, contact, "location", "Oslo")

    for search in (None, "a"):
        reads.clear()
        plain = await demo_org.agent(CONTACTS, {"search": search})
        full = await demo_org.agent(CONTACTS_WITH_HISTORY, {"search": search})
        assert reads == [ValuesRead.TEXTS, ValuesRead.FULL]

        listed = _contacts(plain, "contacts")
        shown = _contacts(full, "contacts")
        assert listed.keys() == shown.keys()
        assert len(listed) > 1
        for id, found in listed.items():
            assert found["listed"] == [
                {"key": a["key"], "value": a["value"]} for a in shown[id]["attributes"]
            ]
        assert plain.statements == full.statements
    panel = await read_contact(demo_org.agent, contact)
    contacts = _contacts(await demo_org.agent(CONTACTS_WITH_HISTORY, {"search": None}), "contacts")
    assert attribute(contacts[contact], "location") == {
        "key": "location",
        "value": "Oslo",
        "updatedAt": attribute(panel, "location")["updatedAt"],
    }
