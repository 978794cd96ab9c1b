"""Attribute values: checked against their definition's type and pattern, then normalised.
The normalised value is what is stored and answered.

- TEXT: free text, at most 2,000 code points (see resolvers/text.py).
- NUMBER: a decimal in plain notation: an optional sign, digits, an optional dot and
  decimals (`-12`, `3.50`, `.5`). Thousands separators are refused rather than guessed,
  since `1,000` is a thousand in English and one in German; exponents, NaN and infinities
  are refused too. Stored without a plus sign and without leading or trailing zeros:
  `+007.50` → `7.5`, `-0.0` → `0`.
- BOOLEAN: `true` or `false` in any case, stored lower-case.
- DATE: a real calendar date written YYYY-MM-DD.
- URL: http or https with a host; scheme and host are lower-cased, the rest is kept.
- EMAIL: local-part@domain with a dot-atom local part and a domain of at least two labels
  whose last is not numeric; the domain is lower-cased.
- PHONE: E.164 after removing spaces, dashes, dots and parentheses and turning a leading
  `00` into `+`: a `+` and 8 to 15 digits, the first not 0.
- SELECT: one of the definition's options, exactly or ignoring case; stored as the option
  is spelled.

Every value has its surrounding whitespace trimmed first; a blank value is refused
(clearing is a mutation of its own).

A definition's `pattern` is Python `re` syntax and must match the whole normalised value.
Patterns run on the `regex` engine, whose syntax is the same but whose matching can be
given a time limit: a pattern that backtracks catastrophically refuses the value instead
of stalling the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import regex

from db.attributes import AttributeDefinition
from resolvers.errors import Problems, UserErrorCode
from resolvers.text import check_text, invalid_characters

MAX_VALUE = 2_000
MAX_PATTERN = 500
PATTERN_TIMEOUT = 0.05  # seconds; far above what a sane pattern needs on 2,000 characters

# What a definition's key must be (the database checks the same).
KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")

_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?")
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")
_PHONE_NOISE = re.compile(r"[\s\-.()]")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


class _Invalid(Exception):
    """Raised by a normaliser with what it expected."""


def _number(text: str, options: Sequence[str]) -> str:
    match = _NUMBER.fullmatch(text)
    if match is None or not (match[2] or match[3]):
        raise _Invalid(
            "a decimal number such as 1234.5 or -0.25 (a dot before decimals, no thousands "
            "separators, no exponent)"
        )
    sign, integer, fraction = match[1], match[2].lstrip("0") or "0", (match[3] or "").rstrip("0")
    number = f"{integer}.{fraction}" if fraction else integer
    return f"-{number}" if sign == "-" and number != "0" else number


def _boolean(text: str, options: Sequence[str]) -> str:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise _Invalid("true or false")
    return lowered


def _date(text: str, options: Sequence[str]) -> str:
    expected = "a date written YYYY-MM-DD, such as 2024-02-29"
    if _DATE.fullmatch(text) is None:
        raise _Invalid(expected)
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{expected}; there is no such day") from None
    return text


def _url(text: str, options: Sequence[str]) -> str:
    expected = "an http or https URL with a host, such as https://example.com/page"
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _Invalid(f"{expected}, without spaces")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number up to 65535
    except ValueError:
        raise _Invalid(expected) from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or port == 0:
        raise _Invalid(expected)
    if ":" not in host and _HOST.fullmatch(host) is None:  # a ':' only survives in IPv6
        raise _Invalid(expected)
    userinfo, at, host_port = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{host_port.lower()}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def _email(text: str, options: Sequence[str]) -> str:
    expected = "an email address such as name@example.com"
    local, at, domain = text.rpartition("@")
    if not at or len(local) > 64 or len(text) > 254 or _LOCAL_PART.fullmatch(local) is None:
        raise _Invalid(expected)
    labels = domain.lower().split(".")
    if (
        len(labels) < 2
        or any(_DOMAIN_LABEL.fullmatch(label) is None for label in labels)
        or labels[-1].isdigit()
    ):
        raise _Invalid(expected)
    return f"{local}@{'.'.join(labels)}"


def _phone(text: str, options: Sequence[str]) -> str:
    compact = _PHONE_NOISE.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _E164.fullmatch(compact) is None:
        raise _Invalid(
            "a phone number in international format: + (or 00), country code and number, "
            "8 to 15 digits in all, such as +44 20 7946 0958"
        )
    return compact


def _select(text: str, options: Sequence[str]) -> str:
    if text in options:
        return text
    folded = text.casefold()
    for option in options:
        if option.casefold() == folded:
            return option
    raise _Invalid("one of: " + ", ".join(options))


_NORMALISERS: dict[str, Callable[[str, Sequence[str]], str]] = {
    "NUMBER": _number,
    "BOOLEAN": _boolean,
    "DATE": _date,
    "URL": _url,
    "EMAIL": _email,
    "PHONE": _phone,
    "SELECT": _select,
}


def check_value(
    problems: Problems, path: list[str], definition: AttributeDefinition, raw: str
) -> str | None:
    """The normalised value, or None after adding a user error: INVALID_VALUE for
    unstorable characters, a value of the wrong type or one the pattern refuses (the
    message says what was expected), BLANK, TOO_LONG."""
    reason = invalid_characters(raw)
    if reason is not None:
        problems.add(path, UserErrorCode.INVALID_VALUE, f"Value {reason}")
        return None
    text = raw.strip()
    if not check_text(problems, path, text, max_length=MAX_VALUE, label="Value"):
        return None
    normalise = _NORMALISERS.get(definition.type)
    try:
        value = text if normalise is None else normalise(text, definition.options)
    except _Invalid as invalid:
        problems.add(path, UserErrorCode.INVALID_VALUE, f"{definition.label}: expected {invalid}")
        return None
    if definition.pattern is not None:
        try:
            matched = pattern_matches(definition.pattern, value)
        except TimeoutError:
            problems.add(
                path,
                UserErrorCode.INVALID_VALUE,
                f"{definition.label}: the value could not be checked against the pattern "
                "in time; a shorter value or a simpler pattern is needed",
            )
            return None
        except regex.error:
            # Only definitions written past this API (imports, SQL) can get here.
            problems.add(
                path,
                UserErrorCode.INVALID_VALUE,
                f"{definition.label}: its pattern is not a valid regular expression; an "
                "administrator must correct it",
            )
            return None
        if not matched:
            problems.add(
                path,
                UserErrorCode.INVALID_VALUE,
                f"{definition.label}: expected a value matching the pattern {definition.pattern}",
            )
            return None
    return value


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, flags=regex.VERSION0)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a definition's pattern (not a Python regular expression),
    or None."""
    try:
        re.compile(pattern)
        _compiled(pattern)
    except (re.error, regex.error, OverflowError, RecursionError) as error:
        return f"is not a valid regular expression: {error}"
    return None


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether `pattern` matches all of `value`. Raises TimeoutError past PATTERN_TIMEOUT,
    regex.error for a pattern that does not compile."""
    return _compiled(pattern).fullmatch(value, timeout=PATTERN_TIMEOUT) is not None
