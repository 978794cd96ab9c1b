"""The operations the benchmark drives: ours, and PostGraphile's equivalents of Q1 and Q2.

Every object is asked for its `id`, as Apollo Client and Relay add it to every selection
for their normalised caches.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.ids import encode

OURS = "ours"
POSTGRAPHILE = "postgraphile"

Q1_QUEUE = """
query Queue {
  conversations(first: 50, orderBy: QUEUE) {
    nodes {
      id status lastMessageAt
      contact {
        id name handle network avatarUrl isVip
        validation { status }
        attributes { key label value kind editable }
      }
    }
  }
}
"""

Q2_PANEL = """
query Panel($id: ID!) {
  contact(id: $id) {
    id name handle network avatarUrl profileUrl isVip createdAt updatedAt
    validation { status crmName crmRecordId validatedAt lastLookupAt }
    vipGroup { id name priority }
    attributes { key label kind type value editable updatedAt }
    notes(first: 20) {
      nodes { id body createdAt author { id name } }
      pageInfo { hasNextPage endCursor }
    }
    conversations(first: 3) {
      nodes { id status subject lastMessageAt }
    }
  }
}
"""

Q3_SEARCH = """
query Search($search: String!) {
  contacts(search: $search, first: 20) {
    nodes { id name handle network avatarUrl isVip }
    pageInfo { hasNextPage endCursor }
  }
}
"""

M1_NOTE = """
mutation AddNote($input: AddContactNoteInput!) {
  addContactNote(input: $input) {
    note { id body createdAt author { id name } }
    userErrors { field message code }
  }
}
"""

# PostGraphile has no "every live definition with this contact's value": it lists the
# values the contact has. The definitions come once per request, as a PostGraphile
# client would fetch them to place and label the values.
_PG_DEFINITIONS = """
  allAttributeDefinitions(
    condition: {organizationId: $org, archived: false}, orderBy: [POSITION_ASC, ROW_ID_ASC]
  ) {
    nodes { id rowId key label kind type editable position }
  }
"""

PG_Q1_QUEUE = f"""
query Queue($org: BigInt!) {{
  allConversations(
    first: 50, condition: {{organizationId: $org}},
    orderBy: [PRIORITY_DESC, LAST_MESSAGE_AT_ASC, ROW_ID_ASC]
  ) {{
    nodes {{
      id status lastMessageAt
      contact: contactByOrganizationIdAndContactId {{
        id name handle network avatarUrl isVip validationStatus
        values: contactAttributeValuesByOrganizationIdAndContactId {{
          nodes {{ definitionId value }}
        }}
      }}
    }}
  }}
{_PG_DEFINITIONS}}}
"""

PG_Q2_PANEL = f"""
query Panel($org: BigInt!, $id: BigInt!) {{
  contact: contactByOrganizationIdAndRowId(organizationId: $org, rowId: $id) {{
    id name handle network avatarUrl isVip createdAt updatedAt
    validationStatus crmRecordId validatedAt lastLookupAt
    organization: organizationByOrganizationId {{ id crmName }}
    vipGroup: vipGroupByOrganizationIdAndVipGroupId {{ id name priority }}
    values: contactAttributeValuesByOrganizationIdAndContactId {{
      nodes {{ definitionId value updatedAt }}
    }}
    notes: notesByOrganizationIdAndContactId(
      first: 20, condition: {{deletedAt: null}}, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]
    ) {{
      nodes {{ id body createdAt author: agentByOrganizationIdAndAuthorId {{ id name }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
    conversations: conversationsByOrganizationIdAndContactId(
      first: 3, orderBy: [LAST_MESSAGE_AT_DESC, ROW_ID_DESC]
    ) {{
      nodes {{ id status subject lastMessageAt }}
    }}
  }}
{_PG_DEFINITIONS}}}
"""

# Where the two servers' answers differ although the operations are "the same".
DIFFERENCES = (
    "PostGraphile runs as the schema owner (a superuser in the bench cluster): no "
    "row-level security, no bearer-token authentication; the tenant is a query argument "
    "(`condition: {organizationId}`). Ours authenticates every request (one SQL function "
    "call) and runs under RLS as a role that owns nothing.",
    "Attributes: ours answers every live definition with the contact's value or null, in "
    "position order, typed and labelled. PostGraphile answers the values the contact has "
    "(by primary key, archived definitions included); its queries fetch the live "
    "definitions once per request, leaving the merge to the client.",
    "profileUrl and validation.crmName are computed by ours; PostGraphile has no "
    "profile URL, and its crmName comes through the organisation relation.",
    "Queue order: PostGraphile orders by `priority DESC, last_message_at, id`; the "
    "schema's queue index is on `(organization_id, -priority, last_message_at, id)`, which "
    "that ORDER BY cannot use, so the runner adds `bench_postgraphile_queue_idx` on "
    "`(organization_id, priority DESC, last_message_at, id)` to the bench database "
    "(not to the migrations) so that both servers read the queue from an index.",
    "PostGraphile is started with PgIndexBehaviorsPlugin disabled: otherwise it offers no "
    "ordering by priority nor filter on notes.deleted_at (columns only in expression or "
    "partial indexes).",
    "PostGraphile runs as one Node.js process (its default); ours runs the configured "
    "number of uvicorn workers. Each has a pool of 10 database connections per process.",
)


@dataclass(frozen=True, slots=True)
class Samples:
    """What requests pick from at random: drawn once per run from the database."""

    organization_id: int
    contact_ids: Sequence[int]
    search_prefixes: Sequence[str]


@dataclass(frozen=True, slots=True)
class Operation:
    key: str  # Q1, Q2, Q3, M1
    title: str
    server: str
    query: str
    variables: Callable[[Samples], list[dict[str, Any]]]

    def bodies(self, samples: Samples) -> list[str]:
        return [json.dumps({"query": self.query, "variables": v}) for v in self.variables(samples)]


def _ours_q2(s: Samples) -> list[dict[str, Any]]:
    return [{"id": encode("Contact", pk)} for pk in s.contact_ids]


def _pg_q1(s: Samples) -> list[dict[str, Any]]:
    return [{"org": str(s.organization_id)}]


def _pg_q2(s: Samples) -> list[dict[str, Any]]:
    return [{"org": str(s.organization_id), "id": str(pk)} for pk in s.contact_ids]


def _note_inputs(s: Samples) -> list[dict[str, Any]]:
    rng = random.Random(3)
    phrases = ("Called back", "Sent the invoice", "Asked for a photo", "Prefers email")
    return [
        {"input": {"contactId": encode("Contact", pk), "body": f"{rng.choice(phrases)} ({n})."}}
        for n, pk in enumerate(s.contact_ids)
    ]


OPERATIONS = (
    Operation("Q1", "queue", OURS, Q1_QUEUE, lambda s: [{}]),
    Operation("Q1", "queue", POSTGRAPHILE, PG_Q1_QUEUE, _pg_q1),
    Operation("Q2", "panel", OURS, Q2_PANEL, _ours_q2),
    Operation("Q2", "panel", POSTGRAPHILE, PG_Q2_PANEL, _pg_q2),
    Operation(
        "Q3", "search", OURS, Q3_SEARCH, lambda s: [{"search": p} for p in s.search_prefixes]
    ),
    Operation("M1", "add note", OURS, M1_NOTE, _note_inputs),
)


def lua_script(template: str, bodies: Sequence[str], headers: dict[str, str]) -> str:
    """The wrk script: the bodies and headers as Lua data, then `template`."""

    def literal(text: str) -> str:
        level = 1
        while f"]{'=' * level}]" in text:
            level += 1
        return f"[{'=' * level}[{text}]{'=' * level}]"

    lines = ["bodies = {"]
    lines += [f"  {literal(body)}," for body in bodies]
    lines.append("}")
    lines.append("headers = {")
    lines += [f"  [ {literal(k)} ] = {literal(v)}," for k, v in headers.items()]
    lines.append("}")
    return "\n".join(lines) + "\n" + template
