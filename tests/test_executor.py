"""The executor's short path for plain scalar and enum fields answers exactly as
graphql-core's general path does, errors included."""

from __future__ import annotations

import asyncio
import operator
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from aiodataloader import DataLoader
from graphql import GraphQLObjectType, Undefined
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import levels
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


def _items() -> list[Item]:
    moment = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    return [
        Item(name="plain", colour=Colour.RED, size=3, seen_at=moment),
        Item(name="no size", colour=Colour.BLUE, size=None, seen_at=moment),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def gaps(self) -> list[Item | None]:
        # Objects a list completes at once unless one of them is missing.
        return [*_items(), None]

    @strawberry.field
    def hole(self) -> list[Item]:
        missing: Any = None
        return [*_items(), missing]

    @strawberry.field
    def loose(self) -> list[Item]:
        # An enum field holding its member's value rather than the member.
        moment = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
        value: Any = "blue"
        return [Item(name="loose", colour=value, size=1, seen_at=moment), *_items()]

    @strawberry.field
    def repeated(self) -> list[Item]:
        # The same object twice, as a queue page's contacts share their unset attributes.
        first, second = _items()
        return [first, second, first]

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


async def test_an_object_listed_twice_completes_once_when_only_leaves_are_read() -> None:
    leaves = "{ repeated { __typename name colour size seenAt alias: name } }"
    fast, general = await both(leaves)

    assert fast.errors is None
    assert fast.data == general.data
    listed = fast.data["repeated"]
    assert [item["name"] for item in listed] == ["plain", "no size", "plain"]
    assert listed[0] is listed[2]  # one dict, shared
    assert listed[0] is not listed[1]

    # A resolver may answer differently for each place the object is in: not shared.
    with_resolver = "{ repeated { name loud } }"
    fast, general = await both(with_resolver)

    assert fast.errors is None
    assert fast.data == general.data
    assert fast.data["repeated"][0] is not fast.data["repeated"][2]


async def test_a_null_in_a_non_null_field_is_the_same_located_error() -> None:
    fast, general = await both(BROKEN)

    # `broken` is a non-null list of non-null items: the null reaches the root.
    assert fast.data is None
    assert general.data is None
    assert [e.formatted for e in fast.errors] == [e.formatted for e in general.errors]
    assert fast.errors[0].path == ["broken", 0, "name"]


async def test_a_list_of_objects_with_a_null_answers_as_the_general_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A list of objects goes into its batch at once (add_all) only when none is missing.
    at_once: list[int] = []
    add_all = levels._Batch.add_all

    def counted(batch: levels._Batch, sources: list[Any], path: Any) -> Any:
        at_once.append(len(sources))
        return add_all(batch, sources, path)

    monkeypatch.setattr(levels._Batch, "add_all", counted)
    items_fast, items_general = await both("{ items { name } }")
    assert items_fast.data == items_general.data
    assert at_once == [2]

    gaps_fast, gaps_general = await both("{ gaps { name size } }")
    hole_fast, hole_general = await both("{ hole { name } }")
    assert at_once == [2]

    assert gaps_fast.errors is None
    assert gaps_fast.data == gaps_general.data
    assert gaps_fast.data["gaps"] == [
        {"name": "plain", "size": 3},
        {"name": "no size", "size": None},
        None,
    ]
    assert hole_fast.data is None
    assert hole_general.data is None
    assert [e.formatted for e in hole_fast.errors] == [e.formatted for e in hole_general.errors]
    assert hole_fast.errors[0].path == ["hole", 2]


async def test_an_enum_member_s_value_completes_as_the_types_coerce_it() -> None:
    fast, general = await both("{ loose { colour } }")

    assert fast.errors == general.errors
    assert fast.data == general.data
    assert [item["colour"] for item in fast.data["loose"]][1:] == ["RED", "BLUE"]


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


# --- Level-by-level execution of queries (schema/levels.py) ---------------------------


class Calls:
    """Which level-by-level executions completed, and which fell back to graphql-core."""

    def __init__(self) -> None:
        self.completed = 0
        self.fell_back = 0


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Shelf(Named):
    position: int

    @strawberry.field
    async def books(self, info: strawberry.Info, first: int = 10) -> list[Book]:
        shelf_of.batches.append(self.position)
        return [Book(name=f"{self.name}/{n}", pages=n * 100) for n in range(1, first + 1)]


@strawberry.type
class Book(Named):
    pages: int

    @strawberry.field
    async def shelf(self, info: strawberry.Info) -> Shelf:
        loader: DataLoader[str, Shelf] = info.context["shelves"]
        return await loader.load(self.name.split("/")[0])

    @strawberry.field
    async def fails(self) -> str | None:
        raise ValueError("the book is out on loan")

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:
        return ".".join(str(key) for key in info.path.as_list())


class ShelfCalls:
    def __init__(self) -> None:
        self.batches: list[Any] = []


shelf_of = ShelfCalls()


@strawberry.type
class LibraryQuery:
    @strawberry.field
    async def shelves(self, count: int = 3) -> list[Shelf]:
        return [Shelf(name=f"s{n}", position=n) for n in range(count)]

    @strawberry.field
    def things(self) -> list[Named]:
        return [Shelf(name="s9", position=9), Book(name="s9/1", pages=1)]

    @strawberry.field
    async def maybe(self) -> Book | None:
        return None


async def _load_shelves(keys: list[str]) -> list[Shelf]:
    shelf_of.batches.append(("load", tuple(keys)))
    return [Shelf(name=key, position=int(key[1:])) for key in keys]


LIBRARY = strawberry.Schema(query=LibraryQuery, execution_context_class=ExecutionContext)
LIBRARY_GENERAL = strawberry.Schema(
    query=LibraryQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
)


async def library(
    query: str, variables: dict[str, Any] | None = None, *, calls: Calls | None = None
) -> tuple[Any, Any]:
    """The answer of the level-by-level executor and of graphql-core's, each with fresh
    loaders (the context of a request)."""
    from aiodataloader import DataLoader as Loader

    from schema import levels

    run = levels.LevelExecution.run

    async def counted(self: levels.LevelExecution, *args: Any) -> Any:
        try:
            data = await run(self, *args)
        except levels.Unsupported:
            if calls is not None:
                calls.fell_back += 1
            raise
        if calls is not None:
            calls.completed += 1
        return data

    levels.LevelExecution.run = counted  # type: ignore[method-assign, assignment]
    try:
        fast = await LIBRARY.execute(
            query, variable_values=variables, context_value={"shelves": Loader(_load_shelves)}
        )
    finally:
        levels.LevelExecution.run = run  # type: ignore[method-assign]
    general = await LIBRARY_GENERAL.execute(
        query, variable_values=variables, context_value={"shelves": Loader(_load_shelves)}
    )
    return fast, general


NESTED = """
query ($withPages: Boolean!) {
  shelves {
    __typename
    position
    books(first: 2) {
      name
      pages @include(if: $withPages)
      shelf { name ...Where }
      again: shelf { position }
    }
    name
  }
}
fragment Where on Shelf { position }
"""


async def test_a_nested_query_answers_as_graphql_core_does() -> None:
    calls = Calls()
    fast, general = await library(NESTED, {"withPages": True}, calls=calls)

    assert (calls.completed, calls.fell_back) == (1, 0)
    assert fast.errors is None
    assert general.errors is None
    assert fast.data == general.data
    book = fast.data["shelves"][1]["books"][0]
    assert book == {
        "name": "s1/1",
        "pages": 100,
        "shelf": {"name": "s1", "position": 1},
        "again": {"position": 1},
    }
    # The response keeps the selection's order, resolvers and plain fields mixed.
    assert list(fast.data["shelves"][0]) == ["__typename", "position", "books", "name"]
    assert list(book) == ["name", "pages", "shelf", "again"]


async def test_a_depth_of_objects_loads_in_one_batch() -> None:
    shelf_of.batches.clear()
    await library(NESTED, {"withPages": False})
    fast_batches = list(shelf_of.batches[: len(shelf_of.batches) // 2])

    # Three shelves' books, then one load for the six books' shelves (both fields).
    loads = [batch for batch in fast_batches if isinstance(batch, tuple)]
    assert loads == [("load", ("s0", "s1", "s2"))]


async def test_abstract_types_resolve_to_their_object_types() -> None:
    query = "{ things { __typename name ... on Shelf { position } ... on Book { pages } } }"
    calls = Calls()
    fast, general = await library(query, calls=calls)

    assert (calls.completed, calls.fell_back) == (1, 0)
    assert (
        fast.data
        == general.data
        == {
            "things": [
                {"__typename": "Shelf", "name": "s9", "position": 9},
                {"__typename": "Book", "name": "s9/1", "pages": 1},
            ]
        }
    )


async def test_a_resolver_error_is_reported_by_graphql_core_located() -> None:
    calls = Calls()
    fast, general = await library(
        "{ shelves(count: 1) { books(first: 2) { name fails } } }", calls=calls
    )

    assert (calls.completed, calls.fell_back) == (0, 1)
    assert fast.data == general.data
    assert fast.data["shelves"][0]["books"][1] == {"name": "s0/2", "fails": None}
    assert [e.formatted for e in fast.errors] == [e.formatted for e in general.errors]
    assert [e.path for e in fast.errors] == [
        ["shelves", 0, "books", 0, "fails"],
        ["shelves", 0, "books", 1, "fails"],
    ]


async def test_nulls_and_introspection() -> None:
    calls = Calls()
    fast, general = await library("{ maybe { name } shelves(count: 0) { name } }", calls=calls)
    assert fast.data == general.data == {"maybe": None, "shelves": []}
    assert (calls.completed, calls.fell_back) == (1, 0)

    fast, general = await library("{ __schema { queryType { name } } }", calls=calls)
    assert fast.data == general.data == {"__schema": {"queryType": {"name": "LibraryQuery"}}}
    assert calls.fell_back == 1


@strawberry.type
class Raising:
    @strawberry.field
    async def slow(self) -> int:
        return 1

    @strawberry.field
    def fails_at_once(self) -> int:
        raise ValueError("no")


@strawberry.type
class RaisingQuery:
    @strawberry.field
    def items(self) -> list[Raising]:
        return [Raising(), Raising()]


async def test_a_resolver_raising_before_the_others_are_awaited_leaves_no_coroutine() -> None:
    import gc
    import warnings

    schema = strawberry.Schema(query=RaisingQuery, execution_context_class=ExecutionContext)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await schema.execute("{ items { slow failsAtOnce } }")
        errors = [e.formatted for e in result.errors or []]
        del result
        gc.collect()

    # A coroutine never awaited warns when it is collected.
    assert [str(w.message) for w in caught] == []
    general = await strawberry.Schema(
        query=RaisingQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
    ).execute("{ items { slow failsAtOnce } }")
    assert errors == [e.formatted for e in general.errors or []]
    assert errors[0]["path"] == ["items", 0, "failsAtOnce"]


async def test_resolvers_see_their_paths_through_lists_and_plain_fields() -> None:
    query = (
        "{ shelves(count: 2) { books(first: 2) { where shelf { books(first: 1) { where } } } } }"
    )
    calls = Calls()
    fast, general = await library(query, calls=calls)

    assert (calls.completed, calls.fell_back) == (1, 0)
    assert fast.data == general.data
    book = fast.data["shelves"][1]["books"][1]
    assert book["where"] == "shelves.1.books.1.where"
    assert book["shelf"]["books"][0]["where"] == "shelves.1.books.1.shelf.books.0.where"


async def test_an_unforeseen_failure_of_level_execution_is_answered_by_graphql_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schema import levels

    async def broken(self: levels.LevelExecution, batch: Any) -> None:
        raise TypeError("a defect")

    monkeypatch.setattr(levels.LevelExecution, "_execute", broken)
    fast, general = await library(NESTED, {"withPages": True})

    assert fast.errors is None
    assert fast.data == general.data


# --- What the level executor must not answer by itself (found in review) ------------

JSON = strawberry.scalars.JSON


class Odd(Exception):
    pass


@strawberry.type
class Holder:
    name: str | None
    data: JSON | None = None


@strawberry.type
class OddQuery:
    @strawberry.field
    async def holders(self, kind: str) -> list[Holder]:
        loop = asyncio.get_running_loop()
        if kind == "error":
            return [Holder(name=Odd("boom"))]  # type: ignore[arg-type]
        if kind == "undefined":
            return [Holder(name=Undefined)]  # type: ignore[arg-type]
        done: asyncio.Future[Any] = loop.create_future()
        done.set_result("from a future")
        return [Holder(name=done)]  # type: ignore[arg-type]

    @strawberry.field
    def pop(self, options: JSON) -> str:
        given: dict[str, Any] = options  # type: ignore[assignment]
        return str(given.pop("k", "gone"))

    @strawberry.field
    def twice(self) -> list[OddQuery]:
        return [OddQuery(), OddQuery()]


ODD = strawberry.Schema(query=OddQuery, execution_context_class=ExecutionContext)
ODD_GENERAL = strawberry.Schema(
    query=OddQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
)


@pytest.mark.parametrize("kind", ["error", "undefined", "future"])
async def test_plain_fields_holding_errors_awaitables_or_undefined(kind: str) -> None:
    query = "query ($kind: String!) { holders(kind: $kind) { name } }"
    fast = await ODD.execute(query, variable_values={"kind": kind})
    general = await ODD_GENERAL.execute(query, variable_values={"kind": kind})

    assert fast.data is not None
    assert fast.data == general.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in general.errors or []]
    assert fast.data["holders"][0]["name"] == {"error": None, "undefined": None}.get(
        kind, "from a future"
    )


async def test_literal_arguments_are_new_for_every_call() -> None:
    query = '{ twice { pop(options: {k: "v"}) } }'
    fast = await ODD.execute(query)
    general = await ODD_GENERAL.execute(query)

    assert fast.data == general.data == {"twice": [{"pop": "v"}, {"pop": "v"}]}


@strawberry.type
class Entry:
    items: JSON | None


@strawberry.type
class DictQuery:
    @strawberry.field
    def entries(self) -> list[Entry]:
        return [{"items": [1, 2]}]  # type: ignore[list-item]


async def test_a_configured_default_resolver_is_respected() -> None:
    config = StrawberryConfig(default_resolver=operator.getitem)
    fast = await strawberry.Schema(
        query=DictQuery, config=config, execution_context_class=ExecutionContext
    ).execute("{ entries { items } }")

    assert fast.errors is None
    assert fast.data == {"entries": [{"items": [1, 2]}]}


class Counted:
    calls = 0


@strawberry.type
class ReplayQuery:
    @strawberry.field
    async def page(self) -> list[int]:
        Counted.calls += 1
        return [1, 2]

    @strawberry.field
    async def count(self) -> int | None:
        raise RuntimeError("the statement timed out")


async def test_a_failure_is_answered_from_what_the_resolvers_gave_without_calling_them_again() -> (
    None
):
    Counted.calls = 0
    fast = await strawberry.Schema(
        query=ReplayQuery, execution_context_class=ExecutionContext
    ).execute("{ page count }")
    calls = Counted.calls
    general = await strawberry.Schema(
        query=ReplayQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
    ).execute("{ page count }")

    # graphql-core's answer (the page, and the one error where it happened), with the
    # page read once: a second read could fail for the first one's sake (an aborted
    # transaction) or repeat its work.
    assert calls == 1
    assert fast.data == general.data == {"page": [1, 2], "count": None}
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in general.errors or []]


@strawberry.type
class Later:
    tags: list[str]


@strawberry.type
class LaterQuery:
    @strawberry.field
    async def later(self) -> list[Later]:
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        done.set_result(["a", "b"])
        return [Later(tags=done)]  # type: ignore[arg-type]


async def test_a_plain_list_field_holding_an_awaitable_is_awaited() -> None:
    calls = Calls()
    schema = strawberry.Schema(query=LaterQuery, execution_context_class=ExecutionContext)
    from schema import levels

    run = levels.LevelExecution.run

    async def counted(self: levels.LevelExecution, *args: Any) -> Any:
        try:
            return await run(self, *args)
        except levels.Unsupported:
            calls.fell_back += 1
            raise

    levels.LevelExecution.run = counted  # type: ignore[method-assign, assignment]
    try:
        result = await schema.execute("{ later { tags } }")
    finally:
        levels.LevelExecution.run = run  # type: ignore[method-assign]

    assert result.errors is None
    assert result.data == {"later": [{"tags": ["a", "b"]}]}
    assert calls.fell_back == 1  # graphql-core awaited it, not an IndexError


made: list[Any] = []


@strawberry.type
class Made:
    name: str


@strawberry.type
class MadeQuery:
    @strawberry.field
    async def made(self) -> list[Made]:
        import weakref

        out = [Made(name=str(n)) for n in range(3)]
        made.extend(weakref.ref(item) for item in out)
        return out


async def test_a_request_lets_go_of_its_objects_without_waiting_for_the_collector() -> None:
    import gc

    schema = strawberry.Schema(query=MadeQuery, execution_context_class=ExecutionContext)
    made.clear()
    gc.collect()
    gc.disable()
    try:
        result = await schema.execute("{ made { name } }")
        assert result.errors is None
        del result
        alive = [ref for ref in made if ref() is not None]
    finally:
        gc.enable()

    # Nothing is left for the collector: no cycle holds what the resolvers gave.
    assert alive == []


@strawberry.input
class Window:
    first_n: int = 2
    colours: list[Colour] | None = None


@strawberry.type
class Rack:
    label: str

    @strawberry.field
    def described(self, info: strawberry.Info, prefix: str = "#") -> str:
        return f"{prefix}{self.label} as {info.path.key} of {info.python_name}"

    @strawberry.field
    @staticmethod
    def rooted(root: Rack, window: Window) -> str:
        colours = ",".join(c.name for c in window.colours or [])
        return f"{root.label}:{window.first_n}:{colours}"

    @strawberry.field
    async def parented(self, parent: strawberry.Parent[Rack], times: int) -> list[str]:
        await asyncio.sleep(0)
        return [parent.label] * times


@strawberry.type
class RackQuery:
    @strawberry.field
    def racks(self) -> list[Rack]:
        return [Rack(label="top"), Rack(label="low")]


RACKS = """
query ($window: Window!) {
  racks {
    described
    arrow: described(prefix: ">")
    rooted(window: $window)
    literal: rooted(window: {firstN: 5, colours: [BLUE, RED]})
    defaults: rooted(window: {})
    parented(times: 2)
  }
}
"""


async def test_resolvers_are_given_what_strawberry_gives_them() -> None:
    fast_schema = strawberry.Schema(query=RackQuery, execution_context_class=ExecutionContext)
    general_schema = strawberry.Schema(
        query=RackQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    variables = {"window": {"firstN": 3, "colours": ["RED"]}}

    fast = await fast_schema.execute(RACKS, variable_values=variables)
    general = await general_schema.execute(RACKS, variable_values=variables)

    assert fast.errors is None
    assert fast.data is not None
    assert fast.data == general.data
    assert fast.data["racks"][0] == {
        "described": "#top as described of described",
        "arrow": ">top as arrow of described",
        "rooted": "top:3:RED",
        "literal": "top:5:BLUE,RED",
        "defaults": "top:2:",
        "parented": ["top", "top"],
    }
    # Called without Strawberry's wrapper (see levels._direct).
    rack = fast_schema._schema.type_map["Rack"]
    assert isinstance(rack, GraphQLObjectType)
    for name in ("described", "rooted", "parented"):
        assert levels._direct(fast_schema._schema, rack, name, rack.fields[name]) is not None


@strawberry.type
class ArgumentsQuery:
    @strawberry.field
    def given(
        self,
        count: int | None = None,
        colour: Colour | None = None,
        colours: list[Colour] | None = None,
        node: strawberry.relay.GlobalID | None = None,
        window: Window | None = None,
        maybe: strawberry.Maybe[int | None] = None,
        at: datetime | None = None,
        name: str = "n",
    ) -> str:
        given = {
            "count": count,
            "colour": colour,
            "colours": colours,
            "node": node,
            "window": window,
            "maybe": maybe,
            "at": at,
            "name": name,
        }
        return repr(sorted((key, type(value).__name__, value) for key, value in given.items()))


ARGUMENTS = """
query ($count: Int, $colours: [Colour!], $window: Window) {
  defaults: given
  nulls: given(count: null, colour: null, colours: null, node: null, window: null, at: null)
  set: given(
    count: 3, colour: BLUE, colours: [RED], node: "SXRlbToy", window: {firstN: 4},
    maybe: null, at: "2026-11-26T09:30:00+00:00", name: "x"
  )
  variables: given(count: $count, colours: $colours, window: $window, maybe: 5)
}
"""


async def test_arguments_of_every_kind_are_converted_as_strawberry_converts_them() -> None:
    fast_schema = strawberry.Schema(query=ArgumentsQuery, execution_context_class=ExecutionContext)
    general_schema = strawberry.Schema(
        query=ArgumentsQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    variables = {"count": 7, "colours": ["BLUE", "RED"], "window": {"colours": ["RED"]}}

    fast = await fast_schema.execute(ARGUMENTS, variable_values=variables)
    general = await general_schema.execute(ARGUMENTS, variable_values=variables)

    assert fast.errors is None
    assert fast.data == general.data
    assert fast.data is not None
    assert "('colour', 'Colour', <Colour.BLUE: 'blue'>)" in fast.data["set"]
    assert "('node', 'GlobalID', GlobalID(type_name='Item', node_id='2'))" in fast.data["set"]
    assert "('maybe', 'Some', Some(None))" in fast.data["set"]
    assert "('maybe', 'Some', Some(5))" in fast.data["variables"]
    assert "('count', 'NoneType', None)" in fast.data["nulls"]
    query = fast_schema._schema.query_type
    assert query is not None
    assert levels._direct(fast_schema._schema, query, "given", query.fields["given"]) is not None


class Missing(Exception):
    pass


@strawberry.type
class Found:
    name: str


@strawberry.type
class NotFound:
    message: str


class MissingHandler(strawberry.ExceptionHandler[Missing, NotFound]):
    def handle(self, exception: Missing, *, field: Any, info: strawberry.Info) -> NotFound:
        return NotFound(message=str(exception))


@strawberry.type
class FindQuery:
    @strawberry.field
    def find(self, name: str) -> Found | NotFound:
        if name == "lost":
            raise Missing(f"no {name}")
        return Found(name=name)


async def test_a_schema_with_exception_handlers_keeps_strawberry_s_wrapper() -> None:
    schema = strawberry.Schema(
        query=FindQuery,
        exception_handlers=[MissingHandler()],
        execution_context_class=ExecutionContext,
    )
    query = """
    {
      here: find(name: "here") { ... on Found { name } }
      lost: find(name: "lost") { ... on NotFound { message } }
    }
    """

    result = await schema.execute(query)

    assert result.errors is None
    assert result.data == {"here": {"name": "here"}, "lost": {"message": "no lost"}}
    root = schema._schema.type_map["FindQuery"]
    assert isinstance(root, GraphQLObjectType)
    assert levels._direct(schema._schema, root, "find", root.fields["find"]) is None
