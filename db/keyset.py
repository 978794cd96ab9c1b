"""Keyset pagination: the SQL that takes one page of rows in a fixed key order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """Rows strictly after `after` and strictly before `before` (in key order), the first
    `limit` of them, or the last `limit` when `from_end`."""

    limit: int
    after: Key | None = None
    before: Key | None = None
    from_end: bool = False


@dataclass(frozen=True, slots=True)
class PageSQL:
    condition: str  # to append to a WHERE clause: empty, or starting with " AND"
    order: str  # ORDER BY items, for the scan direction (reversed when from_end)
    limit: str  # the LIMIT, a literal (see page_sql)
    params: list[Any]


def page_sql(key: Sequence[str], *, descending: bool, window: Window, first_param: int) -> PageSQL:
    """SQL fragments for one window over rows ordered by `key` (all ascending or all
    descending), with parameters numbered from `first_param`. With `from_end` the rows
    come back last first; `in_order` puts them right."""
    columns = ", ".join(key)
    params: list[Any] = []
    condition = ""
    for bound, greater in ((window.after, not descending), (window.before, descending)):
        if bound is None:
            continue
        if len(bound) != len(key):
            raise ValueError("cursor does not match the ordering")
        placeholders = ", ".join(f"${first_param + len(params) + i}" for i in range(len(key)))
        params.extend(bound)
        condition += f" AND ({columns}) {'>' if greater else '<'} ({placeholders})"
    direction = " DESC" if descending != window.from_end else ""
    order = ", ".join(f"{column}{direction}" for column in key)
    # The limit is written into the statement, not passed: statements are planned once
    # for any parameters (db/pool.py), and a plan made for an unknown LIMIT expects a
    # tenth of the table and reads the queue with parallel workers, 10 ms for 51 rows.
    # A page is at most 101 rows, so a statement has at most 101 texts.
    limit = int(window.limit)
    if limit < 0:
        raise ValueError("a negative limit")
    return PageSQL(condition, order, str(limit), params)


def in_order(rows: list[Any], window: Window) -> list[Any]:
    """Rows fetched for `window` in key order."""
    return rows[::-1] if window.from_end else rows
