"""Checks for free text from clients, before it gets anywhere near PostgreSQL.

Lengths are counted in Unicode code points — what PostgreSQL's length() and Python's
len() count, so the database constraint agrees with this check exactly. An emoji that is
one code point (😀) counts 1; a sequence of several (👍🏽, 🇫🇷, e + U+0301) counts each of
its code points.
"""

from __future__ import annotations

from resolvers.errors import Problems, UserErrorCode


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
) -> bool:
    """Adds a user error for unstorable characters (INVALID_VALUE), blank text when
    `required` (BLANK) or text over `max_length` code points (TOO_LONG). True when fine."""
    reason = invalid_characters(text)
    if reason is not None:
        problems.add(path, UserErrorCode.INVALID_VALUE, f"{label} {reason}")
        return False
    if required and not text.strip():
        problems.add(path, UserErrorCode.BLANK, f"{label} must not be blank")
        return False
    if len(text) > max_length:
        problems.add(
            path,
            UserErrorCode.TOO_LONG,
            f"{label} is at most {max_length:,} characters; this one has {len(text):,}",
        )
        return False
    return True
