"""promoteContactToVip and demoteContactFromVip, and the queue that follows them (and
updateVipGroup): every change is read back in a following request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests.conftest import GraphQL, Org

USER_ERRORS = "userErrors { field message code }"
CONTACT_FIELDS = "id isVip updatedAt vipGroup { id name priority team { id } }"

PROMOTE = f"""
mutation ($input: PromoteContactToVipInput!) {{
  promoteContactToVip(input: $input) {{ contact {{ {CONTACT_FIELDS} }} {USER_ERRORS} }}
}}
"""

DEMOTE = f"""
mutation ($input: DemoteContactFromVipInput!) {{
  demoteContactFromVip(input: $input) {{ contact {{ {CONTACT_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE_VIP_GROUP = f"""
mutation ($input: UpdateVipGroupInput!) {{
  updateVipGroup(input: $input) {{ vipGroup {{ id name priority team {{ id }} }} {USER_ERRORS} }}
}}
"""

CONTACT = f"query ($id: ID!) {{ contact(id: $id) {{ {CONTACT_FIELDS} }} }}"

TEAM_QUEUE = """
query ($teamId: ID!) {
  conversations(first: 100, teamId: $teamId, orderBy: QUEUE) {
    nodes { id priority contact { id } team { id } }
  }
}
"""

QUEUE_HEAD = """
{ conversations(first: 3, orderBy: QUEUE) { nodes { id priority contact { id } } } }
"""

PROMOTE_WITH_CONVERSATIONS = """
mutation ($input: PromoteContactToVipInput!) {
  promoteContactToVip(input: $input) {
    contact { conversations(first: 5) { nodes { id priority team { id } } } }
  }
}
"""

# Each payload reads the contact's group and conversations through the request's loaders,
# which must not answer what an earlier mutation of the same operation made stale.
VIP_CHANGES_IN_ONE_OPERATION = """
mutation ($contactId: ID!, $groupId: ID!, $conversationId: ID!) {
  noted: addConversationNote(input: {conversationId: $conversationId, body: "Before"}) {
    conversation { priority }
  }
  promoted: promoteContactToVip(input: {contactId: $contactId, vipGroupId: $groupId}) {
    contact { ...vip }
  }
  notedPromoted: addConversationNote(input: {conversationId: $conversationId, body: "VIP"}) {
    conversation { priority }
  }
  lowered: updateVipGroup(input: {id: $groupId, priority: 7}) { vipGroup { priority } }
  notedLowered: addConversationNote(input: {conversationId: $conversationId, body: "Low"}) {
    conversation { priority }
  }
  touched: setContactAttribute(input: {contactId: $contactId, key: "location", value: "Oslo"}) {
    contact { ...vip }
  }
  demoted: demoteContactFromVip(input: {contactId: $contactId}) { contact { ...vip } }
}
fragment vip on Contact {
  isVip
  vipGroup { priority }
  conversations(first: 5) { nodes { priority contact { isVip } } }
}
"""

# The queue's priorities as the triggers should keep them: 1 + the group's priority for a
# VIP (1 without a group), else 0.
PRIORITIES = """
SELECT v.id, v.priority,
       CASE WHEN c.is_vip THEN 1 + coalesce(g.priority, 0) ELSE 0 END AS expected
  FROM conversations v
  JOIN contacts c ON c.organization_id = v.organization_id AND c.id = v.contact_id
  LEFT JOIN vip_groups g ON g.organization_id = c.organization_id AND g.id = c.vip_group_id
 WHERE v.organization_id = $1
"""

LOCK_CONVERSATION = "SELECT 1 FROM conversations WHERE organization_id = $1 AND id = $2 FOR UPDATE"

WAITING_FOR_LOCKS = """
SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND wait_event_type = 'Lock'
"""


@dataclass
class Queue:
    """A corner of the demo organisation: contacts a, b, c, one conversation each, all
    assigned to team `queue`, waiting longest for a; groups `high` (priority 50, routed to
    team `desk`) and `low` (priority 5, no team)."""

    queue: str
    desk: str
    high: str
    low: str
    contacts: dict[str, str]  # name -> Contact id
    conversations: dict[str, str]  # contact name -> Conversation id

    def names(self, reply_nodes: list[dict[str, Any]]) -> list[str]:
        by_conversation = {v: k for k, v in self.conversations.items()}
        return [by_conversation[node["id"]] for node in reply_nodes]


@pytest.fixture
async def queue(owner: asyncpg.Connection, demo_org: Org) -> Queue:
    org = demo_org.id
    team = "INSERT INTO teams (organization_id, name) VALUES ($1, $2) RETURNING id"
    queue_team = await owner.fetchval(team, org, "Queue")
    desk_team = await owner.fetchval(team, org, "Priority desk")
    group = (
        "INSERT INTO vip_groups (organization_id, name, priority, team_id)"
        " VALUES ($1, $2, $3, $4) RETURNING id"
    )
    high = await owner.fetchval(group, org, "High", 50, desk_team)
    low = await owner.fetchval(group, org, "Low", 5, None)
    now = datetime.now(UTC)
    contacts: dict[str, str] = {}
    conversations: dict[str, str] = {}
    for waited, name in ((300, "a"), (200, "b"), (100, "c")):
        contact_id = await owner.fetchval(
            "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
            " VALUES ($1, 'X', $2, $2, $3) RETURNING id",
            org,
            f"queue-{name}",
            f"Queue {name.upper()}",
        )
        conversation_id = await owner.fetchval(
            "INSERT INTO conversations (organization_id, contact_id, network, team_id,"
            " last_message_at) VALUES ($1, $2, 'X', $3, $4) RETURNING id",
            org,
            contact_id,
            queue_team,
            now - timedelta(minutes=waited),
        )
        contacts[name] = ids.encode("Contact", contact_id)
        conversations[name] = ids.encode("Conversation", conversation_id)
    return Queue(
        ids.encode("Team", queue_team),
        ids.encode("Team", desk_team),
        ids.encode("VipGroup", high),
        ids.encode("VipGroup", low),
        contacts,
        conversations,
    )


async def team_queue(caller: GraphQL, queue: Queue, team: str) -> list[tuple[str, int]]:
    """(contact name, priority) of the team's conversations, in queue order."""
    nodes = (await caller(TEAM_QUEUE, {"teamId": team})).data["conversations"]["nodes"]
    assert all(node["team"]["id"] == team for node in nodes)
    return list(zip(queue.names(nodes), (node["priority"] for node in nodes), strict=True))


async def promote(caller: GraphQL, contact: str, group: str | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"contactId": contact}
    if group is not None:
        variables["vipGroupId"] = group
    payload: dict[str, Any] = (await caller(PROMOTE, {"input": variables})).data[
        "promoteContactToVip"
    ]
    return payload


async def demote(caller: GraphQL, contact: str) -> dict[str, Any]:
    reply = await caller(DEMOTE, {"input": {"contactId": contact}})
    payload: dict[str, Any] = reply.data["demoteContactFromVip"]
    return payload


async def test_queue_and_routing_follow_promotions_demotions_and_group_changes(
    demo_org: Org, queue: Queue
) -> None:
    agent, admin, c = demo_org.agent, demo_org.admin, queue.contacts
    assert await team_queue(agent, queue, queue.queue) == [("a", 0), ("b", 0), ("c", 0)]

    # a VIP group without a team: ranks first, stays with its team
    assert (await promote(agent, c["c"], queue.low))["userErrors"] == []
    assert await team_queue(agent, queue, queue.queue) == [("c", 6), ("a", 0), ("b", 0)]

    # a VIP group with a team: routed there
    assert (await promote(agent, c["b"], queue.high))["userErrors"] == []
    assert await team_queue(agent, queue, queue.queue) == [("c", 6), ("a", 0)]
    assert await team_queue(agent, queue, queue.desk) == [("b", 51)]

    # promoting a VIP into another group moves it
    moved = await promote(agent, c["c"], queue.high)
    assert moved["contact"]["vipGroup"]["id"] == queue.high
    assert await team_queue(agent, queue, queue.queue) == [("a", 0)]
    assert await team_queue(agent, queue, queue.desk) == [("b", 51), ("c", 51)]

    # the group's priority and team change: its VIPs' conversations follow
    lowered = await admin(UPDATE_VIP_GROUP, {"input": {"id": queue.high, "priority": 1}})
    assert lowered.data["updateVipGroup"]["userErrors"] == []
    assert await team_queue(agent, queue, queue.desk) == [("b", 2), ("c", 2)]
    untied = await admin(UPDATE_VIP_GROUP, {"input": {"id": queue.high, "teamId": None}})
    assert untied.data["updateVipGroup"]["vipGroup"]["team"] is None
    assert await team_queue(agent, queue, queue.desk) == []
    assert await team_queue(agent, queue, queue.queue) == [("b", 2), ("c", 2), ("a", 0)]
    retied = await admin(UPDATE_VIP_GROUP, {"input": {"id": queue.high, "teamId": queue.desk}})
    assert retied.data["updateVipGroup"]["vipGroup"]["team"] == {"id": queue.desk}
    assert await team_queue(agent, queue, queue.desk) == [("b", 2), ("c", 2)]

    # demoted: back to the assigned team, at its place by waiting time
    assert (await demote(agent, c["b"]))["contact"]["isVip"] is False
    assert await team_queue(agent, queue, queue.desk) == [("c", 2)]
    assert await team_queue(agent, queue, queue.queue) == [("a", 0), ("b", 0)]
    await demote(agent, c["c"])
    assert await team_queue(agent, queue, queue.desk) == []
    assert await team_queue(agent, queue, queue.queue) == [("a", 0), ("b", 0), ("c", 0)]


async def test_promotion_ranks_first_in_the_whole_queue(demo_org: Org, queue: Queue) -> None:
    top = await demo_org.admin(UPDATE_VIP_GROUP, {"input": {"id": queue.low, "priority": 1000}})
    assert top.data["updateVipGroup"]["vipGroup"]["priority"] == 1000
    head = (await demo_org.agent(QUEUE_HEAD)).data["conversations"]["nodes"]
    assert queue.conversations["a"] not in [node["id"] for node in head]

    await promote(demo_org.agent, queue.contacts["a"], queue.low)

    head = (await demo_org.agent(QUEUE_HEAD)).data["conversations"]["nodes"]
    assert head[0] == {
        "id": queue.conversations["a"],
        "priority": 1001,
        "contact": {"id": queue.contacts["a"]},
    }
    await demote(demo_org.agent, queue.contacts["a"])
    head = (await demo_org.agent(QUEUE_HEAD)).data["conversations"]["nodes"]
    assert queue.conversations["a"] not in [node["id"] for node in head]


async def test_promote_returns_and_stores_the_contact(demo_org: Org, queue: Queue) -> None:
    contact = queue.contacts["a"]
    before = (await demo_org.agent(CONTACT, {"id": contact})).data["contact"]

    payload = await promote(demo_org.agent, contact, queue.high)

    assert payload["userErrors"] == []
    promoted = payload["contact"]
    assert promoted["id"] == contact
    assert promoted["isVip"] is True
    assert promoted["vipGroup"] == {
        "id": queue.high,
        "name": "High",
        "priority": 50,
        "team": {"id": queue.desk},
    }
    assert promoted["updatedAt"] > before["updatedAt"]
    assert (await demo_org.admin(CONTACT, {"id": contact})).data["contact"] == promoted


async def test_promote_without_group_makes_a_vip_without_group(demo_org: Org, queue: Queue) -> None:
    contact = queue.contacts["a"]
    await promote(demo_org.agent, contact, queue.high)

    payload = await promote(demo_org.agent, contact)

    assert payload["contact"]["isVip"] is True
    assert payload["contact"]["vipGroup"] is None
    assert await team_queue(demo_org.agent, queue, queue.queue) == [("a", 1), ("b", 0), ("c", 0)]


async def test_promoting_into_the_same_group_again_changes_nothing(
    demo_org: Org, queue: Queue
) -> None:
    contact = queue.contacts["b"]
    first = (await promote(demo_org.agent, contact, queue.low))["contact"]

    again = await promote(demo_org.admin, contact, queue.low)

    assert again["userErrors"] == []
    assert again["contact"] == first
    assert (await demo_org.agent(CONTACT, {"id": contact})).data["contact"] == first


async def test_demoting_a_contact_that_is_no_vip_changes_nothing(
    demo_org: Org, queue: Queue
) -> None:
    contact = queue.contacts["a"]
    before = (await demo_org.agent(CONTACT, {"id": contact})).data["contact"]

    payload = await demote(demo_org.agent, contact)

    assert payload == {"contact": before, "userErrors": []}
    assert (await demo_org.agent(CONTACT, {"id": contact})).data["contact"] == before
    assert await team_queue(demo_org.agent, queue, queue.queue) == [("a", 0), ("b", 0), ("c", 0)]


async def foreign_vip(owner: asyncpg.Connection, org: Org) -> tuple[str, str]:
    """(Contact id, VipGroup id) of a VIP in a group of `org`."""
    row = await owner.fetchrow(
        "SELECT id, vip_group_id FROM contacts WHERE organization_id = $1"
        " AND vip_group_id IS NOT NULL ORDER BY id LIMIT 1",
        org.id,
    )
    assert row is not None
    return ids.encode("Contact", row["id"]), ids.encode("VipGroup", row["vip_group_id"])


@pytest.mark.parametrize("kind", ["foreign", "missing", "malformed", "wrong type"])
async def test_promote_and_demote_refuse_unknown_contacts(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org, queue: Queue, kind: str
) -> None:
    foreign_contact, _ = await foreign_vip(owner, other_org)
    contact = {
        "foreign": foreign_contact,
        "missing": ids.encode("Contact", 10**12),
        "malformed": "not an id",
        "wrong type": queue.conversations["a"],
    }[kind]
    foreign_before = (await other_org.agent(CONTACT, {"id": foreign_contact})).data["contact"]
    not_found = [
        {"field": ["input", "contactId"], "message": "No contact has this id", "code": "NOT_FOUND"}
    ]

    promoted = await promote(demo_org.agent, contact, queue.high)
    demoted = await demote(demo_org.agent, contact)

    assert promoted == {"contact": None, "userErrors": not_found}
    assert demoted == {"contact": None, "userErrors": not_found}
    after = (await other_org.agent(CONTACT, {"id": foreign_contact})).data["contact"]
    assert after == foreign_before
    assert after["isVip"] is True
    assert await team_queue(demo_org.agent, queue, queue.desk) == []


@pytest.mark.parametrize("kind", ["foreign", "missing", "wrong type"])
async def test_promote_refuses_unknown_groups(
    owner: asyncpg.Connection, demo_org: Org, other_org: Org, queue: Queue, kind: str
) -> None:
    _, foreign_group = await foreign_vip(owner, other_org)
    group = {
        "foreign": foreign_group,
        "missing": ids.encode("VipGroup", 10**12),
        "wrong type": queue.desk,
    }[kind]
    contact = queue.contacts["a"]
    before = (await demo_org.agent(CONTACT, {"id": contact})).data["contact"]

    payload = await promote(demo_org.agent, contact, group)

    assert payload == {
        "contact": None,
        "userErrors": [
            {
                "field": ["input", "vipGroupId"],
                "message": "No VIP group has this id",
                "code": "NOT_FOUND",
            }
        ],
    }
    assert (await demo_org.agent(CONTACT, {"id": contact})).data["contact"] == before
    assert await team_queue(demo_org.agent, queue, queue.queue) == [("a", 0), ("b", 0), ("c", 0)]


async def test_a_refused_promotion_leaves_a_vip_where_it_was(demo_org: Org, queue: Queue) -> None:
    contact = queue.contacts["c"]
    await promote(demo_org.agent, contact, queue.high)

    payload = await promote(demo_org.agent, contact, ids.encode("VipGroup", 10**12))

    assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"]
    after = (await demo_org.agent(CONTACT, {"id": contact})).data["contact"]
    assert after["vipGroup"]["id"] == queue.high
    assert await team_queue(demo_org.agent, queue, queue.desk) == [("c", 51)]


async def test_payload_serves_the_contacts_conversations_after_the_change(
    demo_org: Org, queue: Queue
) -> None:
    reply = await demo_org.agent(
        PROMOTE_WITH_CONVERSATIONS,
        {"input": {"contactId": queue.contacts["a"], "vipGroupId": queue.high}},
    )
    nodes = reply.data["promoteContactToVip"]["contact"]["conversations"]["nodes"]
    assert nodes == [{"id": queue.conversations["a"], "priority": 51, "team": {"id": queue.desk}}]


async def test_each_payload_of_one_operation_sees_the_changes_before_it(
    demo_org: Org, queue: Queue
) -> None:
    variables = {
        "contactId": queue.contacts["a"],
        "groupId": queue.high,
        "conversationId": queue.conversations["a"],
    }

    reply = await demo_org.admin(VIP_CHANGES_IN_ONE_OPERATION, variables)

    data = reply.data
    noted = [data[name]["conversation"] for name in ("noted", "notedPromoted", "notedLowered")]
    assert noted == [{"priority": 0}, {"priority": 51}, {"priority": 8}]
    assert data["promoted"]["contact"] == {
        "isVip": True,
        "vipGroup": {"priority": 50},
        "conversations": {"nodes": [{"priority": 51, "contact": {"isVip": True}}]},
    }
    assert data["lowered"]["vipGroup"] == {"priority": 7}
    assert data["touched"]["contact"] == {
        "isVip": True,
        "vipGroup": {"priority": 7},
        "conversations": {"nodes": [{"priority": 8, "contact": {"isVip": True}}]},
    }
    assert data["demoted"]["contact"] == {
        "isVip": False,
        "vipGroup": None,
        "conversations": {"nodes": [{"priority": 0, "contact": {"isVip": False}}]},
    }


# Concurrency: a VIP change and a change of the VIP's group, each in its own request.


async def settle(owner: asyncpg.Connection, task: asyncio.Task[Any], waiting: int) -> None:
    """Waits until `task` is done or `waiting` statements of the database wait for a lock."""
    for _ in range(1_000):
        if task.done() or await owner.fetchval(WAITING_FOR_LOCKS) >= waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request neither finished nor waited for a lock")


@contextlib.asynccontextmanager
async def conversation_locked(database: str, org: Org, conversation: str) -> AsyncIterator[None]:
    """Holds a row lock on the conversation, so that a request changing its priority stops
    there, in the middle of its transaction, until the block ends."""
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await conn.execute(
                LOCK_CONVERSATION, org.id, ids.decode_as(conversation, "Conversation")
            )
            yield
    finally:
        await conn.close()


Errors = list[dict[str, Any]]
Change = Callable[[Org, Queue], Coroutine[Any, Any, Errors]]


def errors_of(payload: dict[str, Any]) -> Errors:
    errors: Errors = payload["userErrors"]
    return errors


async def promote_b_to_high(org: Org, queue: Queue) -> Errors:
    return errors_of(await promote(org.agent, queue.contacts["b"], queue.high))


async def promote_a_to_low(org: Org, queue: Queue) -> Errors:
    return errors_of(await promote(org.agent, queue.contacts["a"], queue.low))


async def demote_a(org: Org, queue: Queue) -> Errors:
    return errors_of(await demote(org.agent, queue.contacts["a"]))


async def lower_high(org: Org, queue: Queue) -> Errors:
    reply = await org.admin(UPDATE_VIP_GROUP, {"input": {"id": queue.high, "priority": 7}})
    return errors_of(reply.data["updateVipGroup"])


# (first request, the contact whose conversation stops it, second request, the contact to
# check and the group it ends in, None for none); `a` starts as a VIP of `high`.
RACES: dict[str, tuple[Change, str, Change, str, str | None]] = {
    "promotion during a group change": (lower_high, "a", promote_b_to_high, "b", "high"),
    "group change during a promotion": (promote_b_to_high, "b", lower_high, "b", "high"),
    "group change during a demotion": (demote_a, "a", lower_high, "a", None),
    "group change during a move out": (promote_a_to_low, "a", lower_high, "a", "low"),
}


@pytest.mark.parametrize("race", sorted(RACES))
async def test_the_queue_follows_a_vip_change_racing_a_change_of_its_group(
    owner: asyncpg.Connection, database: str, demo_org: Org, queue: Queue, race: str
) -> None:
    # given a VIP of `high`, and a first request stopped in the middle of its transaction
    first, stopped_at, second, contact, group = RACES[race]
    assert (await promote(demo_org.agent, queue.contacts["a"], queue.high))["userErrors"] == []
    async with conversation_locked(database, demo_org, queue.conversations[stopped_at]):
        first_task = asyncio.create_task(first(demo_org, queue))
        await settle(owner, first_task, 1)
        assert not first_task.done()

        # when a second request runs meanwhile (and perhaps waits for the first)
        second_task = asyncio.create_task(second(demo_org, queue))
        await settle(owner, second_task, 2)
    assert [await first_task, await second_task] == [[], []]

    # then every conversation ranks by its contact's group as both left it
    rows = await owner.fetch(PRIORITIES, demo_org.id)
    assert [(row["id"], row["priority"]) for row in rows] == [
        (row["id"], row["expected"]) for row in rows
    ]
    priority = {row["id"]: row["priority"] for row in rows}
    conversation = ids.decode_as(queue.conversations[contact], "Conversation")
    assert priority[conversation] == {"high": 8, "low": 6, None: 0}[group]
