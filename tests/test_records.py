"""Rows become db/ dataclasses by position when their columns are the fields in order,
and by name otherwise, with the same result; built by position, they are the frozen
instances their class makes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, replace
from datetime import UTC, datetime

import asyncpg
import pytest

from db.attributes import VALUE_COLUMNS, AttributeValue
from db.records import builder, instances

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


async def test_rows_built_by_position_are_frozen_instances_of_the_class(
    owner: asyncpg.Connection,
) -> None:
    rows = await owner.fetch(f"SELECT {VALUE_COLUMNS} FROM ({ROWS}) AS r")

    built = [*instances(AttributeValue, rows), builder(AttributeValue)(*rows[0])]

    direct = AttributeValue(*rows[0])
    assert built[2] == direct
    assert type(built[2]) is AttributeValue
    assert type(built[0]) is AttributeValue
    assert built[0] == direct
    assert hash(built[0]) == hash(direct)
    assert repr(built[0]) == repr(direct)
    assert replace(built[0], value="second").value == "second"
    with pytest.raises(FrozenInstanceError):
        built[0].value = "changed"  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Checked:
    """A frozen row class with a __post_init__, which building by twin would skip."""

    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a name is required")


@dataclass(frozen=True)
class _Unslotted:
    name: str


async def test_a_row_class_with_a_post_init_or_without_slots_is_made_by_its_init(
    owner: asyncpg.Connection,
) -> None:
    rows = await owner.fetch("SELECT 'a'::text AS name UNION ALL SELECT ''")

    with pytest.raises(ValueError, match="a name is required"):
        instances(_Checked, rows)
    with pytest.raises(ValueError, match="a name is required"):
        builder(_Checked)("")
    assert instances(_Unslotted, rows) == [_Unslotted("a"), _Unslotted("")]
