"""The executor's short path for plain scalar and enum fields answers exactly as
graphql-core's general path does, errors included."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.executor import ExecutionContext


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Deny(strawberry.BasePermission):
    message = "Not for you"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Item:
    name: str
    colour: Colour
    size: int | None
    seen_at: datetime
    secret: str = strawberry.field(default="hidden", permission_classes=[Deny])

    @strawberry.field
    def loud(self, times: int = 1) -> str:
        return self.name.upper() * times


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        moment = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
        return [
            Item(name="plain", colour=Colour.RED, size=3, seen_at=moment),
            Item(name="no size", colour=Colour.BLUE, size=None, seen_at=moment),
        ]

    @strawberry.field
    def broken(self) -> list[Item]:
        # Values the types refuse: a null for a non-null field, a string for an enum.
        bad: Any = Item(name=None, colour="purple", size=1, seen_at=None)  # type: ignore[arg-type]
        return [bad]


FAST = strawberry.Schema(query=Query, execution_context_class=ExecutionContext)
GENERAL = strawberry.Schema(
    query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
)

ITEMS = """
query {
  items { __typename name colour size seenAt alias: name loud(times: 2) ...More }
}
fragment More on Item { size colour }
"""
BROKEN = "{ broken { name } } "
BROKEN_ENUM = "{ broken { size colour } }"
SKIPPED = "query ($skip: Boolean!) { items { name size @skip(if: $skip) } }"


async def both(query: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any]:
    fast = await FAST.execute(query, variable_values=variables)
    general = await GENERAL.execute(query, variable_values=variables)
    return fast, general


async def test_plain_fields_answer_as_the_general_path_does() -> None:
    fast, general = await both(ITEMS)

    assert fast.errors is None
    assert fast.data == general.data
    assert fast.data["items"][0] == {
        "__typename": "Item",
        "name": "plain",
        "colour": "RED",
        "size": 3,
        "seenAt": "2026-11-26T09:30:00+00:00",
        "alias": "plain",
        "loud": "PLAINPLAIN",
    }
    assert fast.data["items"][1]["size"] is None


async def test_a_null_in_a_non_null_field_is_the_same_located_error() -> None:
    fast, general = await both(BROKEN)

    # `broken` is a non-null list of non-null items: the null reaches the root.
    assert fast.data is None
    assert general.data is None
    assert [e.formatted for e in fast.errors] == [e.formatted for e in general.errors]
    assert fast.errors[0].path == ["broken", 0, "name"]


async def test_a_value_an_enum_refuses_is_the_same_located_error() -> None:
    fast, general = await both(BROKEN_ENUM)

    assert fast.data == general.data
    assert [e.formatted for e in fast.errors] == [e.formatted for e in general.errors]
    assert fast.errors[0].path == ["broken", 0, "colour"]


async def test_a_field_with_permissions_is_still_checked() -> None:
    fast, general = await both("{ items { name secret } }")

    assert fast.data == general.data
    assert [e.message for e in fast.errors] == [e.message for e in general.errors]
    assert fast.errors[0].message == "Not for you"


async def test_directives_still_apply() -> None:
    fast, general = await both(SKIPPED, {"skip": True})

    assert fast.data == general.data == {"items": [{"name": "plain"}, {"name": "no size"}]}
