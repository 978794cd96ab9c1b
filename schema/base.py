"""Node, connections and user errors: the conventions every type follows."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Annotated, Any, Generic, TypeVar

import strawberry

# Gives UserErrorCode its GraphQL description before UserError below first refers to it
# (Strawberry keeps an enum as it was then).
import schema.enums  # noqa: F401
from resolvers import errors
from resolvers.context import Context
from resolvers.errors import UserErrorCode
from resolvers.pagination import Page

# The arguments of every connection field.
First = Annotated[
    int | None,
    strawberry.argument(description="The first n items (0–100; 20 when neither n is given)."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Only items after this cursor (an edge's `cursor`)."),
]
Last = Annotated[int | None, strawberry.argument(description="The last n items (0–100).")]
Before = Annotated[
    str | None,
    strawberry.argument(description="Only items before this cursor (an edge's `cursor`)."),
]


@strawberry.interface(description="An object with a global, opaque id (`node(id:)` fetches it).")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global id.")


@strawberry.type(description="Where a page of a connection sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor.")


NodeT = TypeVar("NodeT")


@strawberry.type(description="An item of a connection with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, paginated with opaque keyset cursors.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(
        description="The page's items with cursors.", resolver=lambda self: self.make_edges()
    )
    nodes: list[NodeT] = strawberry.field(description="The page's items.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    page: strawberry.Private[Page[Any]]
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    def make_edges(self) -> list[Edge[NodeT]]:
        # Made when asked for: a cursor per item costs more than the rest of a page.
        cursor = self.page.cursor
        return [Edge(cursor=cursor(i), node=node) for i, node in enumerate(self.nodes)]

    @strawberry.field(description="How many items the whole list has (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count()


R = TypeVar("R")


def connection(
    page: Page[R], make: Callable[[R], NodeT], count: Callable[[], Awaitable[int]]
) -> Connection[NodeT]:
    """A Connection of the page's rows, made into nodes by `make`."""
    return Connection(
        nodes=[make(row) for row in page.items],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursor(0) if page.items else None,
            end_cursor=page.cursor(-1) if page.items else None,
        ),
        page=page,
        count=count,
    )


@strawberry.type(description="Why a mutation refused its input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "body"].'
    )
    message: str = strawberry.field(description="What went wrong, for a person.")
    code: UserErrorCode = strawberry.field(description="What went wrong, for a program.")

    @classmethod
    def of(cls, error: errors.UserError) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)


def user_errors(errors: list[errors.UserError]) -> list[UserError]:
    """A payload's userErrors, from the user errors (resolvers.errors.UserError) a resolver
    returned."""
    return [UserError.of(error) for error in errors]


Info = strawberry.Info[Context, None]


@functools.cache
def schema_module(name: str) -> ModuleType:
    """The module schema.<name>, for a resolver of a module it imports (so it cannot be
    imported at the top of it): found once, where an import statement in the resolver
    took some 3 µs a call (50 calls on a queue page)."""
    return importlib.import_module(f"schema.{name}")
