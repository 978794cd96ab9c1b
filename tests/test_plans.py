"""A query's plan (the fields its selections collect, how their values complete) is made
once per document and shared by the requests that send it, unless directives make it
depend on the request's variables."""

from __future__ import annotations

from typing import Any

import pytest

from schema import levels
from tests.conftest import Org

PANEL = """
query ($id: ID!) {
  contact(id: $id) {
    id name ...Details
    attributes { key value }
    notes(first: 5) { nodes { body author { name } } }
  }
}
fragment Details on Contact { handle isVip validation { status } }
"""

CONTACTS_NOTES = "{ contacts(first: 50) { nodes { id notes(first: 1) { nodes { id } } } } }"

INCLUDED = """
query ($with: Boolean!) {
  contacts(first: 2) { nodes { name handle @include(if: $with) } }
}
"""

NODE = """
query ($id: ID!) {
  node(id: $id) { __typename id ... on Contact { name } ... on Note { body } }
}
"""


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times levels collected a selection's fields."""
    calls: list[int] = []
    collect = levels.collect_subfields  # type: ignore[attr-defined]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return collect(*args, **kwargs)

    monkeypatch.setattr(levels, "collect_subfields", counted)
    return calls


async def _contact_with_notes(org: Org) -> str:
    reply = await org.agent(CONTACTS_NOTES)
    found: str = next(
        node["id"] for node in reply.data["contacts"]["nodes"] if node["notes"]["nodes"]
    )
    return found


async def test_the_second_request_of_a_document_collects_nothing(
    demo_org: Org, collections: list[int]
) -> None:
    contact_id = await _contact_with_notes(demo_org)

    first = await demo_org.agent(PANEL, {"id": contact_id})
    made = len(collections)
    second = await demo_org.agent(PANEL, {"id": contact_id})

    assert made > 0
    assert len(collections) == made  # planned by the first request
    assert second.data == first.data
    assert second.data["contact"]["notes"]["nodes"][0]["author"]["name"]
    assert second.data["contact"]["attributes"]
    assert set(second.data["contact"]) == {
        "id",
        "name",
        "handle",
        "isVip",
        "validation",
        "attributes",
        "notes",
    }


async def test_a_plan_that_depends_on_variables_is_made_for_each_request(
    demo_org: Org, collections: list[int]
) -> None:
    answers = []
    collected = []
    for include in (True, False, True):
        before = len(collections)
        reply = await demo_org.agent(INCLUDED, {"with": include})
        answers.append([set(node) for node in reply.data["contacts"]["nodes"]])
        collected.append(len(collections) - before)

    assert answers == [
        [{"name", "handle"}] * 2,
        [{"name"}] * 2,
        [{"name", "handle"}] * 2,
    ]
    # Each request collected its own.
    assert collected[0] > 0
    assert collected == [collected[0]] * 3


async def test_a_shared_plan_completes_each_request_with_its_own_types(
    demo_org: Org, collections: list[int]
) -> None:
    contact_id = await _contact_with_notes(demo_org)
    notes = await demo_org.agent(
        "query ($id: ID!) { contact(id: $id) { notes(first: 1) { nodes { id } } } }",
        {"id": contact_id},
    )
    note_id = notes.data["contact"]["notes"]["nodes"][0]["id"]

    as_contact = await demo_org.agent(NODE, {"id": contact_id})
    as_note = await demo_org.agent(NODE, {"id": note_id})
    again = await demo_org.agent(NODE, {"id": contact_id})

    assert as_contact.data["node"]["__typename"] == "Contact"
    assert set(as_contact.data["node"]) == {"__typename", "id", "name"}
    assert as_note.data["node"]["__typename"] == "Note"
    assert set(as_note.data["node"]) == {"__typename", "id", "body"}
    assert again.data == as_contact.data


async def test_no_more_plans_are_kept_than_documents_are(
    demo_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(levels, "PLANS_KEPT", 2)
    for first in range(1, 5):
        reply = await demo_org.agent(f"{{ contacts(first: {first}) {{ nodes {{ id }} }} }}")
        assert len(reply.data["contacts"]["nodes"]) == first

    assert len(levels._PLANS) <= 2
