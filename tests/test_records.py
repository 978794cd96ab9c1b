"""Rows become db/ dataclasses by position when their columns are the fields in order,
and by name otherwise, with the same result."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from db.attributes import VALUE_COLUMNS, AttributeValue
from db.records import instances

ROWS = """
SELECT * FROM (VALUES
  (1::bigint, 10::bigint, 100::bigint, 'first'::text, '2026-11-26 09:30+00'::timestamptz,
   NULL::bigint),
  (1, 11, 100, NULL, '2026-11-26 09:31+00', 7)
) AS v(organization_id, contact_id, definition_id, value, updated_at, updated_by)
"""


async def test_columns_in_field_order_and_in_another_order_give_the_same_objects(
    owner: asyncpg.Connection,
) -> None:
    in_order = await owner.fetch(f"SELECT {VALUE_COLUMNS} FROM ({ROWS}) AS r")
    shuffled = await owner.fetch(
        f"SELECT updated_by, value, contact_id, organization_id, updated_at, definition_id"
        f" FROM ({ROWS}) AS r"
    )

    expected = [
        AttributeValue(1, 10, 100, "first", datetime(2026, 11, 26, 9, 30, tzinfo=UTC), None),
        AttributeValue(1, 11, 100, None, datetime(2026, 11, 26, 9, 31, tzinfo=UTC), 7),
    ]
    assert instances(AttributeValue, in_order) == expected
    assert instances(AttributeValue, shuffled) == expected
    assert instances(AttributeValue, []) == []
