"""A request leaves nothing for the cyclic garbage collector: reference counting frees its
context, loaders, rows and results as it ends (see schema.executor.ExecutionContext.
_release and resolvers.loaders.Loaders.close). Garbage in a reference cycle waits for a
collection, and collections of a busy worker's young objects took milliseconds each."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from db.contacts import ContactFilter
from tests.conftest import Org

QUEUE = """
{
  conversations(first: 20) {
    nodes {
      id status
      contact { id name validation { status } attributes { key value kind editable } }
    }
  }
}
"""
PANEL = """
query ($id: ID!) {
  contact(id: $id) {
    id name vipGroup { name }
    attributes { key value updatedAt updatedBy { name } }
    notes(first: 5) { nodes { body author { name } } }
    conversations(first: 3) { nodes { status } }
  }
}
"""
ADD_NOTE = """
mutation ($input: AddContactNoteInput!) {
  addContactNote(input: $input) { note { id body } userErrors { code } }
}
"""
MISSING_FIELD = "{ contacts(first: 1) { nodes { nope } } }"

# Where the project's own objects live: any of them in cyclic garbage is a request's.
OURS = ("schema.", "resolvers.", "db.", "server")


@pytest.fixture
def saved_garbage() -> Iterator[list[Any]]:
    """What the collector finds unreachable from here on, kept for the test to read
    rather than freed; the collector does not run by itself meanwhile."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def ours_in(garbage: list[Any]) -> list[str]:
    gc.collect()
    return sorted({type(o).__qualname__ for o in garbage if type(o).__module__.startswith(OURS)})


async def test_queries_and_mutations_leave_no_cycles(
    demo_org: Org, saved_garbage: list[Any]
) -> None:
    contact = (await demo_org.agent(QUEUE)).data["conversations"]["nodes"][0]["contact"]["id"]
    note = {"input": {"contactId": contact, "body": "Called back"}}
    # Once each before: a document's first request validates it and plans it, and
    # graphql-core's validation leaves cycles of its own, once per document.
    for query, variables in ((QUEUE, {}), (PANEL, {"id": contact}), (ADD_NOTE, note)):
        await demo_org.agent(query, variables)
    await demo_org.agent(MISSING_FIELD)
    saved_garbage.clear()

    for _ in range(3):
        assert (await demo_org.agent(QUEUE)).data["conversations"]["nodes"]
        assert (await demo_org.agent(PANEL, {"id": contact})).data["contact"]["id"] == contact
        added = (await demo_org.agent(ADD_NOTE, note)).data["addContactNote"]
        assert added["userErrors"] == []
        assert (await demo_org.agent(MISSING_FIELD)).errors

    assert ours_in(saved_garbage) == []


def test_the_check_sees_a_cycle_of_ours(saved_garbage: list[Any]) -> None:
    cycle: list[Any] = [ContactFilter(search="x")]
    cycle.append(cycle)
    del cycle
    assert ours_in(saved_garbage) == ["ContactFilter"]
