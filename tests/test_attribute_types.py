"""setContactAttribute on every attribute type: what each type accepts and how it is
normalised, what it refuses, and definitions' patterns."""

from __future__ import annotations

import time

import asyncpg
import pytest

from tests.attributes import (
    OUTBOX,
    attribute,
    create_definition,
    first_contact,
    read_contact,
    set_value,
)
from tests.conftest import Org

# (key of a demo definition, [(input, stored)]) for every type.
VALID: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "TEXT": (
        "bio",
        [
            ("  Coffee lover ☕  ", "Coffee lover ☕"),
            ("line one\nline two", "line one\nline two"),
            ("é" * 2000, "é" * 2000),
            ("👍🏽" * 1000, "👍🏽" * 1000),
        ],
    ),
    "NUMBER": (
        "followers",
        [
            ("42", "42"),
            ("+007.50", "7.5"),
            ("-0.0", "0"),
            ("-0012", "-12"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-12.340", "-12.34"),
            (" 1000000 ", "1000000"),
            ("123456789012345678901234567890.125", "123456789012345678901234567890.125"),
        ],
    ),
    "BOOLEAN": ("newsletter", [("true", "true"), ("FALSE", "false"), (" True ", "true")]),
    "DATE": ("birthday", [("2024-02-29", "2024-02-29"), ("1999-12-31", "1999-12-31")]),
    "URL": (
        "url",
        [
            ("https://Example.COM/Path?q=A#F", "https://example.com/Path?q=A#F"),
            ("HTTP://example.com", "http://example.com"),
            ("https://User@Host.Example:8443/x", "https://User@host.example:8443/x"),
            ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
            ("https://münchen.example/straße", "https://münchen.example/straße"),
        ],
    ),
    "EMAIL": (
        "email",
        [
            ("Jane.Doe@Example.COM", "Jane.Doe@example.com"),
            ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
            ("  a@b.io ", "a@b.io"),
        ],
    ),
    "PHONE": (
        "phone",
        [
            ("+44 20 7946 0958", "+442079460958"),
            ("0044 (20) 7946-0958", "+442079460958"),
            ("+1.415.555.2671", "+14155552671"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ],
    ),
    "SELECT": (
        "language",
        [("French", "French"), ("french", "French"), ("  JAPANESE ", "Japanese")],
    ),
}

# (key, [(input, code, words the message has)]) for every type.
INVALID: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "TEXT": (
        "bio",
        [
            ("", "BLANK", "blank"),
            (" \n\t ", "BLANK", "blank"),
            ("x" * 2001, "TOO_LONG", "2,000"),
            ("a\x00b", "INVALID_VALUE", "NUL"),
            ("a\ud800b", "INVALID_VALUE", "surrogate"),
        ],
    ),
    "NUMBER": (
        "followers",
        [
            (text, "INVALID_VALUE", "expected a decimal number")
            for text in (
                "1,000",
                "1 000",
                "1_000",
                "1e3",
                "NaN",
                "nan",
                "inf",
                "-Infinity",
                "12abc",
                "+",
                "-",
                ".",
                "1.2.3",
                "٣",
                "0x1F",
                "--1",
            )
        ],
    ),
    "BOOLEAN": (
        "newsletter",
        [(text, "INVALID_VALUE", "expected true or false") for text in ("yes", "1", "t", "truee")],
    ),
    "DATE": (
        "birthday",
        [
            ("2023-02-29", "INVALID_VALUE", "no such day"),
            ("2024-13-01", "INVALID_VALUE", "no such day"),
            ("2024-00-10", "INVALID_VALUE", "no such day"),
            ("2024-1-5", "INVALID_VALUE", "YYYY-MM-DD"),
            ("24-01-05", "INVALID_VALUE", "YYYY-MM-DD"),
            ("2024-01-05T10:00", "INVALID_VALUE", "YYYY-MM-DD"),
            ("20240105", "INVALID_VALUE", "YYYY-MM-DD"),
            ("05/01/2024", "INVALID_VALUE", "YYYY-MM-DD"),
        ],
    ),
    "URL": (
        "url",
        [
            (text, "INVALID_VALUE", "expected an http or https URL")
            for text in (
                "ftp://example.com",
                "example.com",
                "https://",
                "https:///path",
                "javascript:alert(1)",
                "mailto:a@b.io",
                "https://exa mple.com",
                "https://example.com:99999",
                "https://example.com:0",
                "https://exa%mple.com",
                "https://example.com/\u200b",
                # a browser reads a backslash as a slash: its host would be example.com
                "https://example.com\\@evil.example/",
                "https://example.com\\evil.example",
                "https://example.com/a\\b",
                "https://example.com\t@evil.example",
                "https://example.com\r\n@evil.example",
                "https://example.com\x1b/",
                "https://example.com/\x7f",
                "https://example.com\u2028/",
            )
        ],
    ),
    "EMAIL": (
        "email",
        [
            (text, "INVALID_VALUE", "expected an email address")
            for text in (
                "plain",
                "@example.com",
                "a@",
                "a@localhost",
                "a@b..com",
                "a b@example.com",
                "a@-example.com",
                "a@example.123",
                "a..b@example.com",
                ".a@example.com",
                "a@exa_mple.com",
                "a@b@example.com",
                "x" * 65 + "@example.com",
            )
        ],
    ),
    "PHONE": (
        "phone",
        [
            (text, "INVALID_VALUE", "expected a phone number in international format")
            for text in (
                "12345",
                "+1234567",
                "+1234567890123456",
                "+0 20 7946 0958",
                "020 7946 0958",
                "+44 20 7946 095x",
                "++442079460958",
                "+44 20 7946 ٠958",
            )
        ],
    ),
    "SELECT": (
        "language",
        [
            ("Klingon", "INVALID_VALUE", "expected one of: English, French, German"),
            ("Fren", "INVALID_VALUE", "expected one of"),
        ],
    ),
}


@pytest.mark.parametrize("type_", sorted(VALID))
async def test_values_of_every_type_are_normalised_stored_and_returned(
    demo_org: Org, type_: str
) -> None:
    key, cases = VALID[type_]
    contact = await first_contact(demo_org)
    for given, stored in cases:
        payload = await set_value(demo_org.agent, contact, key, given)

        assert payload["userErrors"] == [], (given, payload["userErrors"])
        assert payload["attribute"]["type"] == type_
        assert payload["attribute"]["value"] == stored, given
        read = attribute(await read_contact(demo_org.admin, contact), key)
        assert read["value"] == stored, given


@pytest.mark.parametrize("type_", sorted(INVALID))
async def test_invalid_values_of_every_type_are_refused_and_change_nothing(
    demo_org: Org, type_: str
) -> None:
    key, cases = INVALID[type_]
    contact = await first_contact(demo_org)
    valid_input, valid_stored = VALID[type_][1][0]
    await set_value(demo_org.agent, contact, key, valid_input)
    before = await read_contact(demo_org.agent, contact)
    for given, code, words in cases:
        payload = await set_value(demo_org.agent, contact, key, given)

        assert payload["contact"] is None
        assert payload["attribute"] is None
        [error] = payload["userErrors"]
        assert (error["field"], error["code"]) == (["input", "value"], code), given
        assert words in error["message"], (given, error["message"])
    after = await read_contact(demo_org.agent, contact)
    assert after == before
    assert attribute(after, key)["value"] == valid_stored


async def test_a_value_must_match_the_definitions_pattern(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'order_ref', 'Order', 'CUSTOM', 'TEXT', '[A-Z]{2}-[0-9]{4}'),"
        " ($1, 'uk_phone', 'UK phone', 'CUSTOM', 'PHONE', '\\+44[0-9]+')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    matched = await set_value(demo_org.agent, contact, "order_ref", " AB-1234 ")
    longer = await set_value(demo_org.agent, contact, "order_ref", "AB-12345")
    lower = await set_value(demo_org.agent, contact, "order_ref", "ab-1234")
    # the pattern sees the normalised value
    phone = await set_value(demo_org.agent, contact, "uk_phone", "0044 20 7946 0958")
    foreign_phone = await set_value(demo_org.agent, contact, "uk_phone", "+33 1 23 45 67 89")

    assert matched["attribute"]["value"] == "AB-1234"
    for refused in (longer, lower):
        assert refused["userErrors"] == [
            {
                "field": ["input", "value"],
                "message": "Order: expected a value matching the pattern [A-Z]{2}-[0-9]{4}",
                "code": "INVALID_VALUE",
            }
        ]
    assert phone["attribute"]["value"] == "+442079460958"
    assert [e["code"] for e in foreign_phone["userErrors"]] == ["INVALID_VALUE"]
    after = await read_contact(demo_org.agent, contact)
    assert attribute(after, "order_ref")["value"] == "AB-1234"
    assert attribute(after, "uk_phone")["value"] == "+442079460958"


async def test_a_pattern_that_backtracks_forever_refuses_in_time(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'slow', 'Slow', 'CUSTOM', 'TEXT', '(a|aa)+')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    started = time.monotonic()
    payload = await set_value(demo_org.agent, contact, "slow", "a" * 60 + "b")
    elapsed = time.monotonic() - started

    [error] = payload["userErrors"]
    assert error["code"] == "INVALID_VALUE"
    assert "in time" in error["message"]
    assert elapsed < 2
    assert attribute(await read_contact(demo_org.agent, contact), "slow")["value"] is None
    assert (await set_value(demo_org.agent, contact, "slow", "aaaa"))["attribute"][
        "value"
    ] == "aaaa"


async def test_a_broken_pattern_stored_past_the_api_refuses_values_cleanly(
    owner: asyncpg.Connection, demo_org: Org
) -> None:
    await owner.execute(
        "INSERT INTO attribute_definitions (organization_id, key, label, kind, type, pattern)"
        " VALUES ($1, 'imported', 'Imported', 'CRM', 'TEXT', '(')",
        demo_org.id,
    )
    contact = await first_contact(demo_org)

    payload = await set_value(demo_org.agent, contact, "imported", "anything")

    [error] = payload["userErrors"]
    assert error["code"] == "INVALID_VALUE"
    assert "administrator" in error["message"]
    assert attribute(await read_contact(demo_org.agent, contact), "imported")["value"] is None
    assert await owner.fetch(OUTBOX, demo_org.id) == []


# (pattern, a value it matches, one it refuses): syntax that Python's `re` lacks or reads
# otherwise, which the `regex` engine both checks and runs.
REGEX_DIALECT = [
    ("[[:alpha:]]+", "Zoë", "Zoë1"),
    ("\\p{Lu}\\p{Ll}+", "Émile", "émile"),
    ("[[a]+", "a[a", "ab"),
]


@pytest.mark.parametrize(("pattern", "matching", "refused"), REGEX_DIALECT)
async def test_a_pattern_runs_as_it_was_checked(
    demo_org: Org, pattern: str, matching: str, refused: str
) -> None:
    created = await create_definition(
        demo_org.admin, key="checked", label="Checked", type="TEXT", pattern=pattern
    )
    assert created["userErrors"] == []
    contact = await first_contact(demo_org)

    accepted = await set_value(demo_org.agent, contact, "checked", matching)
    rejected = await set_value(demo_org.agent, contact, "checked", refused)

    assert accepted["attribute"]["value"] == matching
    assert [error["code"] for error in rejected["userErrors"]] == ["INVALID_VALUE"]
    assert attribute(await read_contact(demo_org.agent, contact), "checked")["value"] == matching
