"""Fills a database with the benchmark's data, fast, deterministic from a seed.

    python -m bench.generate --database-url URL [--scale small|large|tiny] [--seed N]

The database gets the project's migrations first and must hold no organisation yet; the
URL's role must be a superuser. Two organisations: "Bench" holds nearly every row, "Bench
Other" (1 % as many contacts, its VIPs ranked above everything) is there to prove that
every query filters by tenant. "Bench" also gets the agent the runner authenticates as
(runner@bench.example); its token is printed.

Speed: everything loads in one transaction that truncates the bulk tables first, so
COPY ... FREEZE writes rows already frozen (and, with wal_level = minimal, without WAL);
secondary indexes are dropped and rebuilt around the load; triggers (foreign keys
included) are off during the load (session_replication_role = replica), since
bench/dataset.py computes the trigger-maintained columns itself, and the search index's
copy of the contacts (search_index.contacts, migration 0007) is written from them in one
statement. Before committing, the load is checked: the triggers recompute those columns on
a sample and must agree, the copy must match the contacts, and every foreign key must
hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg

from bench.dataset import (
    DEFINITIONS,
    FIRST_NAMES,
    LAST_NAMES,
    TABLES,
    Counters,
    Dataset,
    Organisation,
)
from db.agents import create_agent
from db.migrate import migrate
from db.organizations import create_organization
from db.tenancy import set_organization
from resolvers.agents import issue_token

# Bump when the data changes shape: the runner regenerates data of another version.
GENERATOR_VERSION = 1

SCALES = {"tiny": 1_000, "small": 10_000, "large": 1_000_000}
MAIN_ORGANIZATION = "Bench"
OTHER_ORGANIZATION = "Bench Other"
RUNNER_EMAIL = "runner@bench.example"
BATCH = 10_000  # contacts per COPY round
# Kept by triggers from contacts, which are off during the load; written after it.
SEARCH_INDEX = "search_index.contacts"
SEARCH_INDEX_COLUMNS = "organization_id, id, name, search_text, is_vip, network"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class OrganisationPlan:
    name: str
    agents: int
    teams: tuple[str, ...]
    vip_groups: tuple[tuple[str, int, str | None], ...]  # (name, priority, team name)
    vip_rate: float


MAIN = OrganisationPlan(
    MAIN_ORGANIZATION,
    agents=40,
    teams=("Support", "VIP Desk", "Billing", "Returns", "Social"),
    vip_groups=(("Gold", 100, "VIP Desk"), ("Silver", 50, None), ("Bronze", 10, "Support")),
    vip_rate=0.03,
)
OTHER = OrganisationPlan(
    OTHER_ORGANIZATION,
    agents=5,
    teams=("Front desk",),
    vip_groups=(("Platinum", 1000, "Front desk"),),
    vip_rate=0.3,
)


@dataclass(slots=True)
class Report:
    """What was generated and how long each phase took."""

    contacts: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    token: str = ""

    def marker(self) -> str:
        return json.dumps(
            {
                "generator": GENERATOR_VERSION,
                "contacts": self.contacts,
                "seed": self.seed,
                "rows": self.rows,
                "seconds": self.seconds,
            }
        )


class GenerateError(Exception):
    """The database cannot be filled (not empty, not a superuser, a failed check)."""


async def generate(url: str, *, contacts: int, seed: int = 1, progress: Progress = print) -> Report:
    """Migrates and fills the database at `url`; returns what it did. Raises
    GenerateError, leaving the database unchanged, if it cannot."""
    report = Report(contacts, seed)
    started = time.monotonic()
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            raise GenerateError("the generator needs a superuser (to load with triggers off)")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organizations)"):
            raise GenerateError("the database has organisations already; use an empty one")
        async with conn.transaction():
            main = await _organisation(conn, MAIN)
            other = await _organisation(conn, OTHER)
            runner = await create_agent(conn, main.id, name="Bench Runner", email=RUNNER_EMAIL)
            await conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(f"TRUNCATE {', '.join(await _truncatable(conn))}")
            indexes = await _drop_secondary_indexes(conn)
            report.seconds["reference"] = _since(started)

            mark = time.monotonic()
            counters = Counters()
            for org, count in ((main, contacts), (other, max(50, contacts // 100))):
                dataset = Dataset(org, count, seed=seed, counters=counters)
                await _load(conn, dataset, report, progress)
            await _fill_search_index(conn)
            report.seconds["copy"] = _since(mark)
            progress(f"Loaded {_rows(report)} in {report.seconds['copy']:.1f} s")

            mark = time.monotonic()
            for name, definition in indexes:
                progress(f"  index {name}")
                await conn.execute(definition)
            await _advance_sequences(conn)
            report.seconds["indexes"] = _since(mark)
            progress(f"Rebuilt {len(indexes)} indexes in {report.seconds['indexes']:.1f} s")

            mark = time.monotonic()
            await conn.execute("SET LOCAL session_replication_role = origin")
            await _check(conn, contacts, progress)
            report.seconds["check"] = _since(mark)

        mark = time.monotonic()
        progress("VACUUM ANALYZE")
        await conn.execute("VACUUM (ANALYZE)")
        report.seconds["analyze"] = _since(mark)
        report.token = await issue_token(conn, runner)
        report.seconds["total"] = _since(started)
        quoted = await conn.fetchrow(
            "SELECT quote_ident(current_database()) AS name, quote_literal($1::text) AS marker",
            report.marker(),
        )
        assert quoted is not None
        await conn.execute(f"COMMENT ON DATABASE {quoted['name']} IS {quoted['marker']}")
    finally:
        await conn.close()
    progress(f"Generated {contacts:,} contacts in {report.seconds['total']:.1f} s")
    return report


async def _organisation(conn: asyncpg.Connection, plan: OrganisationPlan) -> Organisation:
    organization = await create_organization(conn, plan.name, crm_name="Salesforce")
    org = organization.id
    await set_organization(conn, org)
    slug = plan.name.lower().replace(" ", "-")
    agents = []
    for n in range(plan.agents):
        name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n * 7) % len(LAST_NAMES)]}"
        role = "ADMIN" if n == 0 else "AGENT"
        agents.append(
            await create_agent(conn, org, name=name, email=f"agent{n}@{slug}.example", role=role)
        )
    teams = {
        name: await conn.fetchval(
            "INSERT INTO teams (organization_id, name) VALUES ($1, $2) RETURNING id", org, name
        )
        for name in plan.teams
    }
    groups = []
    for name, priority, team in plan.vip_groups:
        team_id = teams[team] if team else None
        group_id = await conn.fetchval(
            "INSERT INTO vip_groups (organization_id, name, priority, team_id)"
            " VALUES ($1, $2, $3, $4) RETURNING id",
            org,
            name,
            priority,
            team_id,
        )
        groups.append((group_id, priority, team_id))
    for key, label, kind, type_, options, editable, position, archived in DEFINITIONS:
        await conn.execute(
            "INSERT INTO attribute_definitions (organization_id, key, label, kind, type,"
            " options, editable, position, archived) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            org,
            key,
            label,
            kind,
            type_,
            list(options),
            editable,
            position,
            archived,
        )
    definitions = {
        row["key"]: row["id"]
        for row in await conn.fetch(
            "SELECT key, id FROM attribute_definitions WHERE organization_id = $1", org
        )
    }
    return Organisation(
        id=org,
        agent_ids=tuple(a.id for a in agents),
        agent_names=tuple(a.name for a in agents),
        team_ids=tuple(teams.values()),
        vip_groups=tuple(groups),
        definitions=definitions,
        vip_rate=plan.vip_rate,
    )


async def _truncatable(conn: asyncpg.Connection) -> list[str]:
    """The bulk tables and every table referencing them, transitively (all empty, since
    no organisation existed): TRUNCATE needs them together."""
    found = list(TABLES)
    frontier = list(TABLES)
    while frontier:
        referencing = await conn.fetch(
            "SELECT DISTINCT conrelid::regclass::text AS name FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = ANY($1::regclass[])",
            frontier,
        )
        frontier = [r["name"] for r in referencing if r["name"] not in found]
        found += frontier
    return found


async def _fill_search_index(conn: asyncpg.Connection) -> None:
    # In list order, as migration 0007 writes it.
    await conn.execute(
        f"INSERT INTO {SEARCH_INDEX} ({SEARCH_INDEX_COLUMNS})"
        f" SELECT {SEARCH_INDEX_COLUMNS} FROM contacts ORDER BY organization_id, name, id"
    )


async def _drop_secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """Drops the bulk tables' (and the search index copy's) indexes that back no
    constraint; returns (name, CREATE)."""
    rows = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i"
        " WHERE i.indrelid = ANY($1::regclass[])"
        "   AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        "                   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
        " ORDER BY 1",
        [*TABLES, SEARCH_INDEX],
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [(row["name"], row["definition"]) for row in rows]


async def _load(
    conn: asyncpg.Connection, dataset: Dataset, report: Report, progress: Progress
) -> None:
    # The next batch is generated in a thread while the current one is written.
    pending = asyncio.create_task(asyncio.to_thread(_encoded_batch, dataset))
    last_print = time.monotonic()
    started = last_print
    while True:
        counts, encoded = await pending
        if not counts["contacts"]:
            break
        pending = asyncio.create_task(asyncio.to_thread(_encoded_batch, dataset))
        for table, data in encoded.items():
            if counts[table]:
                await conn.copy_to_table(
                    table,
                    source=_chunks(data),
                    columns=list(TABLES[table]),
                    format="text",
                    freeze=True,
                )
                report.rows[table] = report.rows.get(table, 0) + counts[table]
        if time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            progress(f"  {_rows(report)} ({last_print - started:.0f} s)")


def _encoded_batch(dataset: Dataset) -> tuple[dict[str, int], dict[str, bytes]]:
    batch = dataset.batch(BATCH)
    return {table: batch.count(table) for table in TABLES}, batch.encoded()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    step = 1 << 20
    for start in range(0, len(data), step):
        yield data[start : start + step]


async def _advance_sequences(conn: asyncpg.Connection) -> None:
    for table in TABLES:
        if "id" in TABLES[table]:
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence($1, 'id'),"
                f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)",
                table,
            )


async def _check(conn: asyncpg.Connection, contacts: int, progress: Progress) -> None:
    """Raises GenerateError unless the triggers, recomputing their columns on a sample
    (every VIP and one contact in `step`), agree with the loaded rows, unless the search
    index's copy matches the contacts, and unless every foreign key of the bulk tables
    holds."""
    step = max(1, contacts // 20_000)
    with contextlib.suppress(_RollBack):
        await _check_triggers(conn, step, progress)
    differing = await conn.fetchval(
        f"SELECT count(*) FROM contacts c FULL JOIN {SEARCH_INDEX} s"
        " ON s.organization_id = c.organization_id AND s.id = c.id"
        " WHERE (c.name, c.search_text, c.is_vip, c.network)"
        "       IS DISTINCT FROM (s.name, s.search_text, s.is_vip, s.network)"
    )
    if differing:
        raise GenerateError(f"{differing} rows of {SEARCH_INDEX} do not match contacts")
    progress(f"Checked {SEARCH_INDEX} against contacts")
    for query, constraint in await _foreign_key_checks(conn):
        orphans = await conn.fetchval(query)
        if orphans:
            raise GenerateError(f"{orphans} rows break the foreign key {constraint}")
    progress("Checked every foreign key of the loaded tables")


async def _check_triggers(conn: asyncpg.Connection, step: int, progress: Progress) -> None:
    async with conn.transaction():  # a savepoint: the recomputing updates roll back
        checked, wrong = await _two_counts(
            conn,
            "WITH fresh AS ("
            "  UPDATE contacts c SET name = c.name WHERE c.id % $1 = 0 OR c.is_vip"
            "  RETURNING c.organization_id, c.id, c.search_text)"
            " SELECT count(*),"
            "        count(*) FILTER (WHERE f.search_text IS DISTINCT FROM c.search_text)"
            " FROM fresh f JOIN contacts c"
            "   ON c.organization_id = f.organization_id AND c.id = f.id",
            step,
        )
        progress(f"Checked search_text against its trigger on {checked:,} contacts")
        if wrong:
            raise GenerateError(f"{wrong} contacts have a search_text the trigger disagrees with")
        checked, wrong = await _two_counts(
            conn,
            "WITH fresh AS ("
            "  UPDATE conversations v SET team_id = v.team_id"
            "   WHERE v.id % $1 = 0 OR EXISTS (SELECT 1 FROM contacts c"
            "     WHERE c.organization_id = v.organization_id AND c.id = v.contact_id AND c.is_vip)"
            "  RETURNING v.organization_id, v.id, v.priority, v.routed_team_id)"
            " SELECT count(*), count(*) FILTER (WHERE (f.priority, f.routed_team_id)"
            "                                   IS DISTINCT FROM (v.priority, v.routed_team_id))"
            " FROM fresh f JOIN conversations v"
            "   ON v.organization_id = f.organization_id AND v.id = f.id",
            step,
        )
        progress(f"Checked queue routing against its trigger on {checked:,} conversations")
        if wrong:
            raise GenerateError(f"{wrong} conversations are routed unlike the trigger would")
        raise _RollBack


async def _two_counts(conn: asyncpg.Connection, query: str, step: int) -> tuple[int, int]:
    row = await conn.fetchrow(query, step)
    assert row is not None
    return row[0], row[1]


class _RollBack(Exception):
    """Leaves the checking savepoint, undoing its updates."""


async def _foreign_key_checks(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT c.conname, c.conrelid::regclass::text AS child,"
        "       c.confrelid::regclass::text AS parent,"
        "       array(SELECT quote_ident(attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)"
        "             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n"
        "             ORDER BY k.o) AS child_columns,"
        "       array(SELECT quote_ident(attname) FROM unnest(c.confkey) WITH ORDINALITY k(n, o)"
        "             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n"
        "             ORDER BY k.o) AS parent_columns"
        " FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY($1::regclass[])"
        " ORDER BY 1",
        list(TABLES),
    )
    checks = []
    for row in rows:
        pairs = list(zip(row["child_columns"], row["parent_columns"], strict=True))
        present = " AND ".join(f"c.{child} IS NOT NULL" for child, _ in pairs)
        match = " AND ".join(f"p.{parent} = c.{child}" for child, parent in pairs)
        checks.append(
            (
                f"SELECT count(*) FROM {row['child']} c WHERE {present}"
                f" AND NOT EXISTS (SELECT 1 FROM {row['parent']} p WHERE {match})",
                row["conname"],
            )
        )
    return checks


def _rows(report: Report) -> str:
    return ", ".join(f"{count:,} {table}" for table, count in report.rows.items())


def _since(mark: float) -> float:
    return round(time.monotonic() - mark, 1)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    cli.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    cli.add_argument("--scale", choices=SCALES, default="small")
    cli.add_argument("--contacts", type=int, help="overrides the scale's number of contacts")
    cli.add_argument("--seed", type=int, default=1)
    args = cli.parse_args(argv)
    if not args.database_url:
        cli.error("--database-url or DATABASE_URL is required")
    contacts = args.contacts or SCALES[args.scale]

    try:
        report = asyncio.run(generate(args.database_url, contacts=contacts, seed=args.seed))
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Runner agent {RUNNER_EMAIL}, token: {report.token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
