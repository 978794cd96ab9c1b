"""Relay connection arguments, opaque keyset cursors and the pages they select."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from db.keyset import Key, Window
from resolvers.errors import BadUserInput

DEFAULT_PAGE = 20
MAX_PAGE = 100

T = TypeVar("T")

# Cursor values are bound into SQL: ints must fit a bigint, texts must be storable.
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
# Far above any cursor we write (a key holds at most a 200-character name).
_MAX_CURSOR = 4096


@dataclass(frozen=True, slots=True)
class Ordering(Generic[T]):
    """The order of a kind of list. Its `name` is written into every cursor, so a list
    refuses the cursors of lists in another order; `key` is a row's position in it."""

    name: str
    types: tuple[type, ...]
    key: Callable[[T], Key]


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


def encode_cursor(ordering: Ordering[T], row: T) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in ordering.key(row)]
    # Compact JSON, UTF-8 (every edge of every page has one: orjson, not json).
    raw = orjson.dumps([ordering.name, *values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_value(value: Any, kind: type) -> Any:
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(value)
        if not _MIN_INT <= value <= _MAX_INT:
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    # Lone surrogates do not encode; PostgreSQL text holds no NUL.
    if "\x00" in value:
        raise ValueError(value)
    value.encode()
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(value)
        return moment
    return value


def decode_cursor(cursor: str, ordering: Ordering[Any], *, argument: str) -> Key:
    """Raises BadUserInput for a cursor that is not one of this ordering's."""
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != 1 + len(ordering.types):
            raise ValueError(cursor)
        name, *key = values
        if name != ordering.name:
            raise ValueError(cursor)
        return tuple(
            _decode_value(value, kind) for value, kind in zip(key, ordering.types, strict=True)
        )
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise BadUserInput(f"`{argument}` is not a valid cursor for this list") from exc


def window(args: PageArgs, ordering: Ordering[Any]) -> Window:
    """The rows to fetch for `args`: one more than the page, to learn whether more exist.

    Raises BadUserInput for a page size outside 0..100, for `first` with `last`, and for
    a malformed cursor or one of a list in another order.
    """
    for name, size in (("first", args.first), ("last", args.last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise BadUserInput(
                f"`{name}` must be between 0 and {MAX_PAGE}, got {size}", argument=name
            )
    if args.first is not None and args.last is not None:
        raise BadUserInput("Pass either `first` or `last`, not both")
    size = args.last if args.last is not None else args.first
    return Window(
        limit=(DEFAULT_PAGE if size is None else size) + 1,
        after=None if args.after is None else decode_cursor(args.after, ordering, argument="after"),
        before=None
        if args.before is None
        else decode_cursor(args.before, ordering, argument="before"),
        from_end=args.last is not None,
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    ordering: Ordering[T]
    has_next_page: bool
    has_previous_page: bool

    def cursor(self, index: int) -> str:
        """The cursor of the item at `index` (negative from the end). Encoded when asked
        for: most clients ask for the end cursor alone."""
        return encode_cursor(self.ordering, self.items[index])


def page(rows: list[T], request: Window, ordering: Ordering[T]) -> Page[T]:
    """The page among `rows`, fetched (in key order) for `request`.

    Beyond the extra row, a page knows only that rows exist past a cursor it was given,
    which is how it reports the far side.
    """
    size = request.limit - 1
    more = len(rows) > size
    if request.from_end:
        items = rows[len(rows) - size :] if more else rows
        has_next, has_previous = request.before is not None, more
    else:
        items = rows[:size]
        has_next, has_previous = more, request.after is not None
    return Page(items, ordering, has_next, has_previous)
