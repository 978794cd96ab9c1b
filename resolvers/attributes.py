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

A definition's `pattern` must match the whole normalised value. Patterns are written for,
checked by and run on one engine, the `regex` package in its version 0 (PATTERN_DIALECT):
Python's `re` syntax plus POSIX classes such as `[[:alpha:]]` and Unicode properties such
as `\\p{L}`; where `re` reads a pattern otherwise (`[[a]`), `regex`'s reading is the one
that counts. Its matching can be given a time limit: a pattern that backtracks
catastrophically refuses the value instead of stalling the server. Compiling can cost
much too: a few nested counted repeats of groups make the engine build gigabytes, so a
new pattern is first compiled in a child process with a memory ceiling and refused if its
compilation costs more than MAX_PATTERN_MEMORY.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import regex

from db.attributes import AttributeDefinition
from resolvers.errors import Problems, UserErrorCode
from resolvers.text import check_text, invalid_characters

MAX_VALUE = 2_000
MAX_KEY = 63
MAX_PATTERN = 500
PATTERN_TIMEOUT = 0.05  # seconds; far above what a sane pattern needs on 2,000 characters
MAX_PATTERN_MEMORY = 1_000_000  # bytes the engine may allocate to compile a pattern
PATTERN_DIALECT = (
    "the `regex` package's syntax, version 0: Python's `re` syntax plus POSIX classes "
    "such as [[:alpha:]] and Unicode properties such as \\p{L}"
)

# What a definition's key must be (the database checks the same).
KEY = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_KEY - 1}}}")

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
    # Browsers read a backslash as a slash, so in `https://example.com\@evil.example/`
    # they see the host example.com where urlsplit sees evil.example; whitespace and
    # control characters are dropped or mangled by some parsers and not by others.
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in text):
        raise _Invalid(f"{expected}, without spaces, backslashes or control characters")
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
    """Raises regex.error for a pattern that does not compile, or that the engine warns
    about (it would read it otherwise than its writer meant)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return regex.compile(pattern, flags=regex.VERSION0)
    except regex.error:
        raise
    except (Warning, ValueError, OverflowError, RecursionError, MemoryError) as problem:
        raise regex.error(str(problem)) from None


# Run with `python -I -c`: compiles the pattern read from stdin under a memory ceiling
# (argv[1], bytes of address space) and writes {"problem": ..., "cost": ...} as JSON.
_CHECK_PATTERN = """
import json, resource, sys, tracemalloc, warnings
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import regex
pattern = sys.stdin.buffer.read().decode("utf-8")
problem, cost = None, 0
warnings.simplefilter("error")
tracemalloc.start()
try:
    regex.compile(pattern, flags=regex.VERSION0)
    cost = tracemalloc.get_traced_memory()[1]
except MemoryError:
    cost = limit
except Exception as error:
    problem = str(error) or type(error).__name__
tracemalloc.stop()
sys.stdout.write(json.dumps({"problem": problem, "cost": cost}))
"""
_CHECK_ADDRESS_SPACE = 96 * 2**20  # the interpreter and `regex` take about 20 MB of it
_CHECK_SECONDS = 2.0  # a sane pattern compiles in milliseconds


async def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a definition's pattern (not a regular expression of
    PATTERN_DIALECT, or too costly to compile), or None. Compiles it in a child process
    first, so that a costly pattern cannot exhaust the server's memory. Raises
    RuntimeError when the child process fails for another reason."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        _CHECK_PATTERN,
        str(_CHECK_ADDRESS_SPACE),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        output, _ = await asyncio.wait_for(
            process.communicate(pattern.encode("utf-8")), _CHECK_SECONDS
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        return "is too complex: compiling it takes too long"
    if process.returncode is not None and process.returncode < 0:
        # killed by a signal: the engine aborted, out of its memory
        return "is too complex: compiling it takes too much memory"
    if process.returncode != 0 or not output:
        raise RuntimeError(f"checking a pattern failed (exit status {process.returncode})")
    found = json.loads(output)
    if found["problem"] is not None:
        return f"is not a valid regular expression: {found['problem']}"
    if found["cost"] > MAX_PATTERN_MEMORY:
        return (
            f"is too complex: compiling it takes more than {MAX_PATTERN_MEMORY:,} bytes "
            "of memory (counted repeats of groups, nested, multiply)"
        )
    try:
        _compiled(pattern)
    except regex.error as error:
        return f"is not a valid regular expression: {error}"
    return None


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether `pattern` matches all of `value`. Raises TimeoutError past PATTERN_TIMEOUT,
    regex.error for a pattern that does not compile."""
    return _compiled(pattern).fullmatch(value, timeout=PATTERN_TIMEOUT) is not None
