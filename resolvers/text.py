"""Checks for free text from clients, before it gets anywhere near PostgreSQL.

Lengths are counted in Unicode code points by default — what PostgreSQL's length() and
Python's len() count, so a database constraint agrees with the check exactly. Note bodies
count characters as a person does instead: extended grapheme clusters (Unicode UAX #29),
so any emoji (😀, 👍🏽, 🇫🇷, 👨‍👩‍👧) and any letter with combining marks (e + U+0301)
is one character; see `graphemes`.
"""

from __future__ import annotations

from collections.abc import Callable

import regex

from resolvers.errors import Problems, UserErrorCode

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """User-perceived characters: extended grapheme clusters, as Unicode defines them."""
    return len(_GRAPHEME.findall(text))


def invalid_characters(text: str) -> str | None:
    """Why PostgreSQL could not store `text` (NUL, or a lone UTF-16 surrogate), or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogate code points (invalid UTF-16)"
    return None


def check_text(
    problems: Problems,
    path: list[str],
    text: str,
    *,
    max_length: int,
    required: bool = True,
    label: str = "Text",
    count: Callable[[str], int] = len,
    max_code_points: int | None = None,
) -> bool:
    """Adds a user error for unstorable characters (INVALID_VALUE), blank text when
    `required` (BLANK), text over `max_length` as `count` counts (code points by default),
    or over `max_code_points` (TOO_LONG). True when fine."""
    reason = invalid_characters(text)
    if reason is not None:
        problems.add(path, UserErrorCode.INVALID_VALUE, f"{label} {reason}")
        return False
    if required and not text.strip():
        problems.add(path, UserErrorCode.BLANK, f"{label} must not be blank")
        return False
    length = count(text)
    if length > max_length:
        problems.add(
            path,
            UserErrorCode.TOO_LONG,
            f"{label} is at most {max_length:,} characters; this one has {length:,}",
        )
        return False
    if max_code_points is not None and len(text) > max_code_points:
        problems.add(
            path,
            UserErrorCode.TOO_LONG,
            f"{label} is at most {max_code_points:,} Unicode code points; "
            f"this one has {len(text):,}",
        )
        return False
    return True
