"""/healthz says the process is up; /readyz says the database answers."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import asyncpg
import httpx

import server
from db.migrate import migrate
from tests.conftest import Org
from tests.test_migrations import throwaway_database


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_fails_fast_once_the_database_is_gone(server_url: str) -> None:
    async with throwaway_database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        app = server.create_app(server.Settings.from_env(url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                assert (await http.get("/readyz")).status_code == 200

                # Terminates the pool's connections; reconnecting finds no database.
                admin = await asyncpg.connect(server_url)
                try:
                    await admin.execute(f'DROP DATABASE "{urlsplit(url).path[1:]}" WITH (FORCE)')
                finally:
                    await admin.close()

                started = time.monotonic()
                ready = await http.get("/readyz")
                elapsed = time.monotonic() - started
                healthy = await http.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable"}
    assert elapsed < 3
    assert healthy.status_code == 200


async def test_the_running_app_collects_garbage_less_often(client: httpx.AsyncClient) -> None:
    import gc

    import server

    # The app fixture has started: what it built is frozen out of the collector's sight.
    assert gc.get_threshold()[0] == server.GC_YOUNGEST_THRESHOLD
    assert gc.get_freeze_count() > 10_000
    assert (await client.get("/healthz")).status_code == 200


QUEUE_PAGE = """
{
  conversations(first: 20, orderBy: QUEUE) {
    nodes { status contact { name vipGroup { name } attributes { key value } } }
  }
}
"""


async def test_a_request_leaves_its_rows_to_no_reference_cycle(demo_org: Org) -> None:
    import gc

    from db.attributes import AttributeValue
    from db.contacts import Contact
    from resolvers.loaders import _Loader

    await demo_org.agent(QUEUE_PAGE)  # what is made once per process is made
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        reply = await demo_org.agent(QUEUE_PAGE)
        gc.collect()
        unreachable = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert len(reply.data["conversations"]["nodes"]) == 20
    # What the loaders read was freed as soon as the request was over, not left for
    # the collector: neither the loaders nor their rows are in a cycle.
    held = [o for o in unreachable if isinstance(o, _Loader | AttributeValue | Contact)]
    assert held == []
