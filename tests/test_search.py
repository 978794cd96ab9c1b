"""contacts(search:): what it matches, in which order, page after page, on an organisation
large enough (30,000 contacts) for every way search_contact_ids() finds matches; that
each of those ways reads indexes only; and that the search index it reads follows the
contacts and stays out of the server's reach."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from db import demo
from db.agents import Agent
from db.tenancy import organization_transaction
from resolvers import ids
from resolvers.agents import issue_token
from tests.conftest import TABLES, GraphQL

SEARCH = """
query Search($search: String!, $first: Int, $after: String, $last: Int, $before: String,
             $isVip: Boolean, $network: SocialNetwork) {
  contacts(search: $search, first: $first, after: $after, last: $last, before: $before,
           isVip: $isVip, network: $network) {
    totalCount
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
FIRST_PAGE = "query ($search: String!) { contacts(search: $search) { nodes { id } } }"

# The reference: what contacts(search:) promises, from the contacts' own fields.
MATCHING = """
SELECT c.id FROM contacts c
 WHERE c.organization_id = $1
   AND (strpos(lower(c.name), lower($2)) > 0 OR strpos(lower(c.handle), lower($2)) > 0
        OR EXISTS (SELECT 1 FROM contact_attribute_values v
                     JOIN attribute_definitions d
                       ON d.organization_id = v.organization_id AND d.id = v.definition_id
                    WHERE v.organization_id = c.organization_id AND v.contact_id = c.id
                      AND d.key IN ('email', 'phone') AND strpos(lower(v.value), lower($2)) > 0))
   AND ($3::boolean IS NULL OR c.is_vip = $3) AND ($4::text IS NULL OR c.network = $4)
 ORDER BY c.name, c.id
"""

# Bulk contacts: every first name with every last name, 468 or 469 times each, inserted
# in an order unrelated to the names. Handles fold the names to ASCII, joined with nothing,
# "_" or "."; so "Zoé" sorts last and its handles start with "zoe", "Yılmaz" and
# "Müller" are found inside handles only, and "Yusuf" inside its own name.
FIRST_NAMES = ("Ada", "Bruno", "Elif", "Felipe", "Lena", "Valentina", "Yusuf", "Zoé")
FIRST_FOLDED = ("ada", "bruno", "elif", "felipe", "lena", "valentina", "yusuf", "zoe")
LAST_NAMES = (
    "Abara", "Berg", "García", "Lovelace", "Müller", "Yılmaz", "Zimmermann", "Østergaard",
)  # fmt: skip
LAST_FOLDED = (
    "abara", "berg", "garcia", "lovelace", "muller", "yilmaz", "zimmermann", "ostergaard",
)  # fmt: skip
BULK = 30_000
INSERT_BULK = """
INSERT INTO contacts (organization_id, network, network_user_id, handle, name, is_vip)
SELECT $1, (ARRAY['X', 'INSTAGRAM', 'TIKTOK'])[n % 3 + 1], 'bulk-' || n,
       ($2::text[])[n % 8 + 1] || (ARRAY['', '_', '.'])[n / 8 % 3 + 1]
         || ($3::text[])[n / 24 % 8 + 1] || n,
       ($4::text[])[n % 8 + 1] || ' ' || ($5::text[])[n / 24 % 8 + 1], n % 7 = 0
  FROM generate_series(1, $6::integer) AS n
 ORDER BY md5(n::text)
"""

# Contacts whose text tries the edges: LIKE's wildcards, case beyond ASCII, empty and
# fifth words, email and phone.
SPECIAL = (
    ("100% Real_Deal", "real_deal"),
    ("100X RealXDeal", "realxdeal"),
    ("Back\\Slash Person", "back\\slash"),
    ("Émile ØRSTED", "emile"),
    ("İstanbul Çarşı", "ist"),
    ("Anne  Marie", "annemarie"),
    ("María de la Cruz Fernández", "mariacruz"),
    ("Zygmunt Qx", "zq"),
)
EMAIL = ("Zygmunt Qx", "z.qx@Inbox.Example")
PHONE = ("Anne  Marie", "+33 6 12 34 56 78")


@dataclass
class SearchOrg:
    id: int
    agent: GraphQL
    other: GraphQL
    owner: asyncpg.Connection
    by_name: dict[str, int]  # the special contacts' ids
    agents: tuple[Agent, Agent]  # ours, the other organisation's

    async def fresh_tokens(self) -> None:
        """New tokens: the rate limit counts requests per token, and a test may send
        hundreds."""
        self.agent = self.agent.as_agent(await issue_token(self.owner, self.agents[0]))
        self.other = self.other.as_agent(await issue_token(self.owner, self.agents[1]))


@pytest.fixture(scope="module")
async def org(database: str, app: Starlette) -> AsyncIterator[SearchOrg]:
    """The organisation "Search" (the demo data, the bulk contacts and the special ones)
    and the demo organisation "Other"; built once for the module."""
    conn = await asyncpg.connect(database)
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    organization, (_, agent) = await demo.seed_demo(conn, "Search")
    other, (_, other_agent) = await demo.seed_demo(conn, "Other")
    by_name: dict[str, int] = {}
    async with organization_transaction(conn, organization.id):
        await conn.execute(
            INSERT_BULK,
            organization.id,
            list(FIRST_FOLDED),
            list(LAST_FOLDED),
            list(FIRST_NAMES),
            list(LAST_NAMES),
            BULK,
        )
        for name, handle in SPECIAL:
            by_name[name] = await conn.fetchval(
                "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
                " VALUES ($1, 'X', $2, $2, $3) RETURNING id",
                organization.id,
                handle,
                name,
            )
        for (name, value), key in ((EMAIL, "email"), (PHONE, "phone")):
            await conn.execute(
                "INSERT INTO contact_attribute_values (organization_id, contact_id,"
                " definition_id, value) SELECT $1, $2, id, $3 FROM attribute_definitions"
                " WHERE organization_id = $1 AND key = $4",
                organization.id,
                by_name[name],
                value,
                key,
            )
    async with organization_transaction(conn, other.id):
        await conn.execute(
            "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
            " VALUES ($1, 'X', 'foreign', 'zoe_foreign', 'Zoé Foreign')",
            other.id,
        )
    # The search's choices rest on the planner's statistics; and the trigram indexes'
    # pending entries, which autovacuum would merge, make the planner shun them.
    await conn.execute("VACUUM ANALYZE search_index.contacts")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield SearchOrg(
            organization.id,
            GraphQL(client, await issue_token(conn, agent)),
            GraphQL(client, await issue_token(conn, other_agent)),
            conn,
            by_name,
            (agent, other_agent),
        )
    await conn.close()


@pytest.fixture(autouse=True)
async def _tokens(org: SearchOrg) -> None:
    await org.fresh_tokens()


async def _expected(
    org: SearchOrg, term: str, *, is_vip: bool | None = None, network: str | None = None
) -> list[str]:
    async with organization_transaction(org.owner, org.id):
        rows = await org.owner.fetch(MATCHING, org.id, term, is_vip, network)
    return [ids.encode("Contact", row["id"]) for row in rows]


async def _pages(
    org: SearchOrg, term: str, size: int, **filters: Any
) -> tuple[list[str], list[str], int]:
    """Every id found paging forwards from the start, then backwards from the end
    (returned in list order), and the total count; pageInfo checked at each step."""
    forwards: list[str] = []
    after = None
    while True:
        data = (
            await org.agent(SEARCH, {"search": term, "first": size, "after": after, **filters})
        ).data
        page = data["contacts"]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        forwards += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["nodes"]) == size
        after = page["pageInfo"]["endCursor"]
    total = page["totalCount"]
    backwards: list[list[str]] = []
    before = None
    while True:
        data = (
            await org.agent(SEARCH, {"search": term, "last": size, "before": before, **filters})
        ).data
        page = data["contacts"]
        assert page["pageInfo"]["hasNextPage"] == (before is not None)
        backwards.insert(0, [node["id"] for node in page["nodes"]])
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        assert len(page["nodes"]) == size
        before = page["pageInfo"]["startCursor"]
    return forwards, [found for page in backwards for found in page], total


# Each term takes one of search_contact_ids()'s ways on this organisation, as
# test_every_way_reads_indexes_only shows.
TERMS = {
    "ber": "word starts, and the few contacts with the term elsewhere: Berg, no other word",
    "eli": "word starts, then the list in order: Felipe, after Elif, holds it inside",
    "ZOE": "word starts, and the few others: the handles of Zoé, who sorts last",
    "yil": "a bounded read in order: Yılmaz only inside handles, in every stretch",
    "usu": "a bounded read in order that fails, then inner matches: Yusuf sorts late",
    "zoé a": "a term with a space, looked up in the trigram index",
    "ü": "no trigram: the list in order, however long",
    "erg": "inner matches only, common ones",
}


@pytest.mark.parametrize("term", list(TERMS))
async def test_pages_forwards_and_backwards_hold_every_match_in_order(
    org: SearchOrg, term: str
) -> None:
    expected = await _expected(org, term)

    forwards, backwards, total = await _pages(org, term, 97)

    assert expected
    assert forwards == expected
    assert backwards == expected
    assert total == len(expected)


@pytest.mark.parametrize(
    ("term", "size"), [("zim", 100), ("oe", 100), ("fer", 3), ("a d", 50), ("ost", 100)]
)
async def test_more_terms_page_by_page(org: SearchOrg, term: str, size: int) -> None:
    expected = await _expected(org, term)

    forwards, backwards, total = await _pages(org, term, size)

    assert (forwards, backwards, total) == (expected, expected, len(expected))


@pytest.mark.parametrize(
    ("filters", "is_vip", "network"),
    [
        ({"isVip": True}, True, None),
        ({"network": "TIKTOK"}, None, "TIKTOK"),
        ({"isVip": False, "network": "X"}, False, "X"),
    ],
)
@pytest.mark.parametrize("term", ["ZOE", "usu", "ber"])
async def test_filters_apply_on_every_page(
    org: SearchOrg, term: str, filters: dict[str, Any], is_vip: bool | None, network: str | None
) -> None:
    expected = await _expected(org, term, is_vip=is_vip, network=network)

    forwards, backwards, total = await _pages(org, term, 100, **filters)

    assert expected
    assert (forwards, backwards, total) == (expected, expected, len(expected))


@pytest.mark.parametrize(
    ("term", "names"),
    [
        # LIKE's wildcards and escape character are plain characters.
        ("100%", ["100% Real_Deal"]),
        ("l_d", ["100% Real_Deal"]),
        ("real_deal", ["100% Real_Deal"]),
        ("%", ["100% Real_Deal"]),
        ("\\s", ["Back\\Slash Person"]),
        ("k\\slash", ["Back\\Slash Person"]),
        # Any case, beyond ASCII too, as PostgreSQL lower-cases.
        ("ÉMILE", ["Émile ØRSTED"]),
        ("ørsted", ["Émile ØRSTED"]),
        ("İSTANBUL", ["İstanbul Çarşı"]),
        ("çarşı", ["İstanbul Çarşı"]),
        # An empty word, a fifth word, the email and the phone.
        ("marie", ["Anne  Marie"]),
        ("la cruz", ["María de la Cruz Fernández"]),
        ("anne  m", ["Anne  Marie"]),
        ("fernández", ["María de la Cruz Fernández"]),
        ("@inbox.example", ["Zygmunt Qx"]),
        ("Z.QX@", ["Zygmunt Qx"]),
        ("12 34", ["Anne  Marie"]),
        ("+33", ["Anne  Marie"]),
        ("zq", ["Zygmunt Qx"]),
        ("qx", ["Zygmunt Qx"]),
    ],
)
async def test_what_a_term_matches(org: SearchOrg, term: str, names: list[str]) -> None:
    expected = await _expected(org, term)

    reply = await org.agent(SEARCH, {"search": term, "first": 100})

    assert expected == [ids.encode("Contact", org.by_name[name]) for name in names]
    assert [node["id"] for node in reply.data["contacts"]["nodes"]] == expected
    assert reply.data["contacts"]["totalCount"] == len(expected)


async def test_an_underscore_is_no_wildcard(org: SearchOrg) -> None:
    expected = await _expected(org, "_")

    forwards, backwards, total = await _pages(org, "_", 100)

    # Handles joined with "_", and the deal: a third of the bulk contacts, not all.
    assert ids.encode("Contact", org.by_name["100% Real_Deal"]) in expected
    assert ids.encode("Contact", org.by_name["100X RealXDeal"]) not in expected
    assert (forwards, backwards, total) == (expected, expected, len(expected))


async def test_a_term_nobody_matches(org: SearchOrg) -> None:
    for term in ("qqq", "qq", "zoe_berg_qq", "zoé zoé"):
        reply = await org.agent(SEARCH, {"search": term, "last": 5})

        assert reply.data["contacts"] == {
            "totalCount": 0,
            "nodes": [],
            "pageInfo": {
                "hasNextPage": False,
                "hasPreviousPage": False,
                "startCursor": None,
                "endCursor": None,
            },
        }


async def test_another_organisation_finds_none_of_these(org: SearchOrg) -> None:
    ours = await org.agent(SEARCH, {"search": "foreign", "first": 100})
    theirs = await org.other(SEARCH, {"search": "foreign", "first": 100})

    assert ours.data["contacts"]["totalCount"] == 0
    found = theirs.data["contacts"]["nodes"]
    assert theirs.data["contacts"]["totalCount"] == len(found) == 1
    assert (
        await org.owner.fetchval(
            "SELECT organization_id FROM contacts WHERE id = $1",
            ids.decode_as(found[0]["id"], "Contact"),
        )
        == org.id + 1
    )


async def test_one_statement_per_page_whatever_the_way(org: SearchOrg) -> None:
    for term in TERMS:
        reply = await org.agent(FIRST_PAGE, {"search": term})

        assert len(reply.data["contacts"]["nodes"]) == 20
        assert reply.statements == 2  # authentication, the page


def _windows(text: str) -> set[str]:
    """The three characters without a space at each place of `text`."""
    return {text[i : i + 3] for i in range(len(text) - 2) if " " not in text[i : i + 3]}


@pytest.mark.parametrize(
    "text",
    [
        "ada torres ada_torres12 ada_torres12@mail.example +4412345",
        "ada van dijk ada.vandijk7 ada.vandijk7@vandijk.example",
        "viktor torres viktortorres3 viktortorres3@inbox.example",
        "aaaa aaab aaaaaa",
        "xu li xuli9 xuli9@xu.example",
        "anne  marie annemarie +33 6 12 34 56 78",
        "zoé østergaard zoeostergaard zoé@zoé.example",
        "abcabcabc bcabca cabcab abc",
        "",
    ],
)
async def test_starts_text_keeps_all_three_characters_but_where_words_start(
    org: SearchOrg, text: str
) -> None:
    starts = await org.owner.fetchval("SELECT search_index.starts_text($1)", text)

    # What a word index would find: the first three characters of the first four words.
    word_starts = {word[:3] for word in text.split(" ")[:4] if len(word) >= 3}
    assert _windows(text) - word_starts <= _windows(starts) <= _windows(text)
    if text.startswith("ada"):
        # No overlapping occurrences: each of those is broken, wherever it is.
        assert not _windows(starts) & word_starts


async def test_a_few_contacts_with_a_term_inside_a_word_take_their_places(
    org: SearchOrg,
) -> None:
    """The matches of "ber" start words (Berg), but for two contacts, which sort first and
    last and hold it inside a word only."""
    async with organization_transaction(org.owner, org.id):
        added = [
            await org.owner.fetchval(
                "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
                " VALUES ($1, 'X', $2, $2, $3) RETURNING id",
                org.id,
                handle,
                name,
            )
            for name, handle in (("Aaron Quberg", "aaronquberg"), ("Zzyzx Quberg", "zzyzxq"))
        ]
    try:
        expected = await _expected(org, "ber")
        first = await org.agent(SEARCH, {"search": "ber", "first": 30})
        after = await org.agent(
            SEARCH,
            {
                "search": "ber",
                "first": 30,
                "after": first.data["contacts"]["pageInfo"]["endCursor"],
            },
        )
        last = await org.agent(SEARCH, {"search": "ber", "last": 30})
    finally:
        async with organization_transaction(org.owner, org.id):
            await org.owner.execute("DELETE FROM contacts WHERE id = ANY($1::bigint[])", added)

    assert expected[0] == ids.encode("Contact", added[0])
    assert expected[-1] == ids.encode("Contact", added[1])
    assert [node["id"] for node in first.data["contacts"]["nodes"]] == expected[:30]
    assert [node["id"] for node in after.data["contacts"]["nodes"]] == expected[30:60]
    assert [node["id"] for node in last.data["contacts"]["nodes"]] == expected[-30:]
    assert first.data["contacts"]["totalCount"] == len(expected)


async def test_the_search_index_follows_the_contacts(org: SearchOrg) -> None:
    contact = org.by_name["Zygmunt Qx"]
    before = await _expected(org, "wxyzzy")

    async with organization_transaction(org.owner, org.id):
        await org.owner.execute("UPDATE contacts SET name = 'Wxyzzy Qx' WHERE id = $1", contact)
    renamed = await org.agent(SEARCH, {"search": "WXYZZY"})
    async with organization_transaction(org.owner, org.id):
        await org.owner.execute(
            "UPDATE contact_attribute_values SET value = 'wxyzzy@mail.example'"
            " WHERE contact_id = $1",
            contact,
        )
        await org.owner.execute("UPDATE contacts SET name = 'Zygmunt Qx' WHERE id = $1", contact)
    by_email = await org.agent(SEARCH, {"search": "wxyzzy@"})
    async with organization_transaction(org.owner, org.id):
        await org.owner.execute(
            "UPDATE contact_attribute_values SET value = $2 WHERE contact_id = $1",
            contact,
            EMAIL[1],
        )
    restored = await org.agent(SEARCH, {"search": "wxyzzy"})

    found = [ids.encode("Contact", contact)]
    assert before == []
    assert [node["id"] for node in renamed.data["contacts"]["nodes"]] == found
    assert [node["id"] for node in by_email.data["contacts"]["nodes"]] == found
    assert restored.data["contacts"]["nodes"] == []


async def test_a_deleted_contact_leaves_the_search_index(org: SearchOrg) -> None:
    async with organization_transaction(org.owner, org.id):
        contact = await org.owner.fetchval(
            "INSERT INTO contacts (organization_id, network, network_user_id, handle, name)"
            " VALUES ($1, 'X', 'short-lived', 'short_lived', 'Short Lived') RETURNING id",
            org.id,
        )
    found = await org.agent(SEARCH, {"search": "short l"})
    async with organization_transaction(org.owner, org.id):
        await org.owner.execute("DELETE FROM contacts WHERE id = $1", contact)
    gone = await org.agent(SEARCH, {"search": "short l"})

    assert [node["id"] for node in found.data["contacts"]["nodes"]] == [
        ids.encode("Contact", contact)
    ]
    assert gone.data["contacts"] == {
        "totalCount": 0,
        "nodes": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    assert not await org.owner.fetchval(
        "SELECT count(*) FROM search_index.contacts WHERE id = $1", contact
    )


async def test_the_server_role_cannot_read_the_search_index(app: Starlette, org: SearchOrg) -> None:
    async with app.state.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM search_index.contacts")


async def test_the_functions_answer_for_the_bound_organisation_only(
    app: Starlette, org: SearchOrg
) -> None:
    async with app.state.pool.acquire() as conn, organization_transaction(conn, org.id):
        own = await conn.fetchval(
            "SELECT count(*) FROM search_contact_ids($1, 'zoe', NULL, NULL, NULL, NULL,"
            " NULL, NULL, false, 10)",
            org.id,
        )
        foreign = await conn.fetchval(
            "SELECT count(*) FROM search_contact_ids($1, 'zoe', NULL, NULL, NULL, NULL,"
            " NULL, NULL, false, 10)",
            org.id + 1,
        )
        counted = await conn.fetchval(
            "SELECT count_matching_contacts($1, 'zoe', NULL, NULL)", org.id + 1
        )
    async with app.state.pool.acquire() as conn, conn.transaction():
        unbound = await conn.fetchval(
            "SELECT count(*) FROM search_contact_ids($1, 'zoe', NULL, NULL, NULL, NULL,"
            " NULL, NULL, false, 10)",
            org.id,
        )

    assert (own, foreign, counted, unbound) == (10, 0, 0, 0)


# The indexes each way reads, as auto_explain logs the statements run inside the
# function: the word indexes for any term without a space, then the contacts holding the
# term's first three characters other than where a word starts with them (starts), the
# list in name order (order), or the trigrams of whole texts (text).
WORDS = {f"search_index_contacts_word{n}_idx" for n in range(1, 5)}
WAYS = {
    "ber": WORDS | {"search_index_contacts_starts_idx"},
    "eli": WORDS | {"search_index_contacts_order_idx"},
    "zoe": WORDS | {"search_index_contacts_starts_idx"},
    "yil": WORDS | {"search_index_contacts_order_idx"},
    "usu": WORDS | {"search_index_contacts_order_idx", "search_index_contacts_starts_idx"},
    "zoé a": {"search_index_contacts_text_idx"},
    "ü": {"search_index_contacts_order_idx"},
}
SCANNED = re.compile(r"Scan(?: Backward)? (?:using|on) (\w+_idx)")


@pytest.mark.parametrize(("term", "indexes"), list(WAYS.items()))
async def test_every_way_reads_indexes_only(org: SearchOrg, term: str, indexes: set[str]) -> None:
    logged: list[str] = []

    def listen(_: object, message: asyncpg.PostgresLogMessage) -> None:
        logged.append(str(message.message))

    conn = org.owner
    conn.add_log_listener(listen)
    try:
        async with organization_transaction(conn, org.id):
            await conn.execute("LOAD 'auto_explain'")
            await conn.execute(
                "SET LOCAL auto_explain.log_min_duration = 0;"
                " SET LOCAL auto_explain.log_nested_statements = on;"
                " SET LOCAL client_min_messages = log"
            )
            found = await conn.fetchval(
                "SELECT count(*) FROM search_contact_ids($1, $2, NULL, NULL, NULL, NULL, NULL,"
                " NULL, false, 21)",
                org.id,
                term,
            )
    finally:
        conn.remove_log_listener(listen)

    # The estimates' plans (EXPLAIN without running) are logged too: not those.
    plans = "\n".join(
        message
        for message in logged
        if "search_index.contacts" in message and "Query Text: EXPLAIN" not in message
    )
    assert found == 21
    assert "Seq Scan" not in plans
    assert set(SCANNED.findall(plans)) == indexes
