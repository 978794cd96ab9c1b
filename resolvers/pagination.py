"""Relay connection arguments, opaque keyset cursors and the pages they select."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from db.keyset import Key, Window
from resolvers.errors import BadUserInput

DEFAULT_PAGE = 20
MAX_PAGE = 100

T = TypeVar("T")

# How each value of a cursor is written and read back.
_DECODERS: dict[type, Callable[[Any], Any]] = {
    int: int,
    str: str,
    datetime: datetime.fromisoformat,
}


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


def encode_cursor(key: Key) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type], *, argument: str) -> Key:
    """Raises BadUserInput for a cursor that is not one of this list's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError(cursor)
        key = []
        for value, kind in zip(values, types, strict=True):
            if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(value)
            if kind is not int and not isinstance(value, str):
                raise ValueError(value)
            key.append(_DECODERS[kind](value))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadUserInput(f"`{argument}` is not a valid cursor for this list") from exc
    return tuple(key)


def window(args: PageArgs, key_types: Sequence[type]) -> Window:
    """The rows to fetch for `args`: one more than the page, to learn whether more exist.

    Raises BadUserInput for a page size outside 0..100, for `first` with `last`, and for
    a foreign or malformed cursor.
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
        after=None
        if args.after is None
        else decode_cursor(args.after, key_types, argument="after"),
        before=None
        if args.before is None
        else decode_cursor(args.before, key_types, argument="before"),
        from_end=args.last is not None,
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool
    has_previous_page: bool


def page(rows: list[T], request: Window) -> Page[T]:
    """The page among `rows`, fetched (in key order) for `request`.

    Beyond the extra row, a page knows only that rows exist past a cursor it was given,
    which is how it reports the far side.
    """
    size = request.limit - 1
    more = len(rows) > size
    if request.from_end:
        items = rows[len(rows) - size :] if size else []
        return Page(items, request.before is not None, more)
    return Page(rows[:size], more, request.after is not None)
