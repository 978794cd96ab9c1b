"""What unknown tokens may cost (schema/http.py, resolvers/ratelimit.py): a token that
failed lately is refused without the database, each client address has a budget of
failed authentications, and a request waits a bounded time for a database connection.
The clock is the test's; nothing sleeps longer than the acquire timeout."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

import server
from resolvers.ratelimit import AuthenticationGuard, RateLimiter, RecentKeys, address_key
from tests.conftest import GraphQL, Org, Reply

FAILURES = 3  # failed authentications per minute and address: one more every 20 s
ACQUIRE_TIMEOUT = 0.2  # seconds a request waits for a database connection
VIEWER = "{ viewer { name } }"
HERE = ("192.0.2.10", 40000)
ELSEWHERE = ("198.51.100.7", 40000)


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def guarded_app(database: str, clock: Clock) -> AsyncIterator[Starlette]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_FAILURES_PER_MINUTE", str(FAILURES))
        patch.setenv("DATABASE_ACQUIRE_TIMEOUT", str(ACQUIRE_TIMEOUT))
        settings = dataclasses.replace(server.Settings.from_env(database), pool_size=2)
        app = server.create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def fresh(clock: Clock) -> None:
    """Every address's budget full again, every remembered token forgotten."""
    clock.advance(3_600)


@asynccontextmanager
async def from_address(
    app: Starlette, address: tuple[str, int]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=address)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@asynccontextmanager
async def pool_exhausted(app: Starlette) -> AsyncIterator[None]:
    """Holds every connection of the app's pool (two), as a flood of lookups would."""
    pool: asyncpg.Pool = app.state.pool
    held = [await pool.acquire(), await pool.acquire()]
    try:
        yield
    finally:
        for connection in held:
            await pool.release(connection)


def unknown(n: int | str) -> str:
    return f"ica_nobody-holds-{n}"


def _assert_too_many_failures(reply: Reply, retry_after: int) -> None:
    assert reply.status == 429
    assert reply.codes == ["RATE_LIMITED"]
    assert reply.errors[0]["extensions"]["retryAfter"] == retry_after
    assert reply.headers["retry-after"] == str(retry_after)
    assert reply.headers["x-request-id"]
    assert "data" not in reply.body


async def test_an_address_has_a_budget_of_failed_authentications(
    guarded_app: Starlette, clock: Clock, fresh: None
) -> None:
    async with (
        from_address(guarded_app, HERE) as here,
        from_address(guarded_app, ELSEWHERE) as elsewhere,
    ):
        # given: the budget spent on unknown tokens
        spent = [await GraphQL(here, unknown(n))(VIEWER) for n in range(FAILURES)]
        assert [reply.status for reply in spent] == [401] * FAILURES

        # when / then: the next unknown token is not looked up
        _assert_too_many_failures(await GraphQL(here, unknown("next"))(VIEWER), 20)
        # another address has its own budget
        assert (await GraphQL(elsewhere, unknown("elsewhere"))(VIEWER)).status == 401

        # one more failure every 20 seconds
        clock.advance(20)
        assert (await GraphQL(here, unknown("later"))(VIEWER)).status == 401
        _assert_too_many_failures(await GraphQL(here, unknown("again"))(VIEWER), 20)


async def test_valid_tokens_cost_the_address_nothing(
    guarded_app: Starlette, fresh: None, demo_org: Org
) -> None:
    async with from_address(guarded_app, HERE) as here:
        agent, admin = GraphQL(here, demo_org.agent.token), GraphQL(here, demo_org.admin.token)
        for _ in range(FAILURES + 2):
            assert (await agent(VIEWER)).status == 200
        assert (await admin(VIEWER)).status == 200

        failures = [await GraphQL(here, unknown(n))(VIEWER) for n in range(FAILURES)]

        assert [reply.status for reply in failures] == [401] * FAILURES


async def test_agents_who_authenticated_lately_get_past_an_address_over_budget(
    guarded_app: Starlette, owner: asyncpg.Connection, fresh: None, demo_org: Org
) -> None:
    async with from_address(guarded_app, HERE) as here:
        # given: the agent authenticated, then the address spent its budget
        agent = GraphQL(here, demo_org.agent.token)
        assert (await agent(VIEWER)).data == {"viewer": {"name": "Sam Agent"}}
        for n in range(FAILURES):
            assert (await GraphQL(here, unknown(n))(VIEWER)).status == 401

        # when
        known = await agent(VIEWER)
        stranger = await GraphQL(here, demo_org.admin.token)(VIEWER)

        # then: the agent is served; a token not seen lately waits like unknown ones
        assert known.data == {"viewer": {"name": "Sam Agent"}}
        _assert_too_many_failures(stranger, 20)

        # and a token revoked since is looked up, refused, and no longer let past
        await owner.execute(
            "UPDATE agent_tokens SET revoked_at = now() WHERE agent_id = $1", demo_org.agent_id
        )
        assert (await agent(VIEWER)).status == 401


async def test_a_token_that_failed_lately_is_refused_without_the_database(
    guarded_app: Starlette, clock: Clock, fresh: None
) -> None:
    async with from_address(guarded_app, HERE) as here:
        # given: a failed token
        bad = GraphQL(here, unknown("remembered"))
        assert (await bad(VIEWER)).status == 401

        async with pool_exhausted(guarded_app):
            # when / then: answered at once, where a lookup would find no connection
            for _ in range(FAILURES + 2):
                again = await bad(VIEWER)
                assert again.status == 401
                assert again.codes == ["UNAUTHENTICATED"]
            assert (await GraphQL(here, unknown("new"))(VIEWER)).status == 503

            # a minute later it is looked up again
            clock.advance(61)
            assert (await bad(VIEWER)).status == 503


async def test_a_request_that_gets_no_connection_in_time_is_503(
    guarded_app: Starlette, fresh: None, demo_org: Org
) -> None:
    async with from_address(guarded_app, HERE) as here:
        agent = GraphQL(here, demo_org.agent.token)

        async with pool_exhausted(guarded_app):
            busy = [await GraphQL(here, unknown(n))(VIEWER) for n in range(FAILURES + 1)]
            known = await agent(VIEWER)

        for reply in [*busy, known]:
            assert reply.status == 503
            assert reply.codes == ["SERVICE_UNAVAILABLE"]
            assert reply.headers["retry-after"] == "1"
            assert reply.headers["content-type"].startswith("application/json")
            assert reply.headers["x-request-id"]
        # the connection came back: served again, and no failure was counted
        assert (await agent(VIEWER)).data == {"viewer": {"name": "Sam Agent"}}
        after = [await GraphQL(here, unknown(f"after-{n}"))(VIEWER) for n in range(FAILURES)]
        assert [reply.status for reply in after] == [401] * FAILURES


async def test_a_flood_of_unknown_tokens_reaches_the_database_budget_times(
    guarded_app: Starlette, fresh: None, demo_org: Org
) -> None:
    async with from_address(guarded_app, HERE) as here:
        agent = GraphQL(here, demo_org.agent.token)
        assert (await agent(VIEWER)).status == 200

        flood: list[Any] = [GraphQL(here, unknown(f"flood-{n}"))(VIEWER) for n in range(60)]
        replies = await asyncio.gather(*flood, agent(VIEWER))

    statuses = [reply.status for reply in replies[:-1]]
    assert statuses.count(401) == FAILURES
    assert statuses.count(429) == 60 - FAILURES
    assert replies[-1].data == {"viewer": {"name": "Sam Agent"}}


def test_the_limits_come_from_the_environment(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = server.Settings.from_env(database)
    monkeypatch.delenv("AUTH_FAILURES_PER_MINUTE", raising=False)
    guard = server.create_app(settings).state.auth_guard
    assert isinstance(guard, AuthenticationGuard)
    assert guard.limiter.budget == 60

    monkeypatch.setenv("AUTH_FAILURES_PER_MINUTE", "0")
    assert server.create_app(settings).state.auth_guard is None

    for name, value in [
        ("AUTH_FAILURES_PER_MINUTE", "many"),
        ("DATABASE_ACQUIRE_TIMEOUT", "soon"),
        ("DATABASE_ACQUIRE_TIMEOUT", "0"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(SystemExit, match=name):
                server.create_app(settings)


# --- the parts, without HTTP ------------------------------------------------------------


def test_recent_keys_are_bounded_and_expire() -> None:
    clock = Clock()
    keys = RecentKeys(3, 60.0, clock=clock)
    for key in (b"a", b"b", b"c", b"d"):
        keys.add(key)

    assert len(keys) == 3
    assert b"a" not in keys  # the oldest made room
    assert b"d" in keys

    clock.advance(30)
    keys.add(b"b")  # seen again: kept a full ttl from now
    clock.advance(31)

    assert b"c" not in keys
    assert b"b" in keys
    keys.discard(b"b")
    assert b"b" not in keys


def test_a_limiter_remembers_at_most_max_keys() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60.0, clock=clock, max_keys=100)

    for n in range(1_000):
        assert limiter.take(n.to_bytes(4, "big")).allowed

    assert len(limiter) == 100
    # the most recent keys are the ones kept, the oldest made room
    assert not limiter.take((999).to_bytes(4, "big")).allowed
    assert limiter.take((0).to_bytes(4, "big")).allowed
    assert len(limiter) == 100


def test_a_charge_given_back_is_as_if_never_taken() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock=clock)

    assert limiter.take(b"key").allowed
    limiter.give_back(b"key")
    assert len(limiter) == 0
    assert [limiter.take(b"key").allowed for _ in range(3)] == [True, True, False]
    limiter.give_back(b"key")
    assert limiter.take(b"key").allowed


def test_a_guard_charges_unknown_tokens_and_gives_back_valid_ones() -> None:
    clock = Clock()
    guard = AuthenticationGuard(2, clock=clock)
    address = address_key("192.0.2.1")

    first = guard.attempt(address, b"valid")
    assert first.refused is None
    assert first.charged
    guard.settle(first, authenticated=True)

    again = guard.attempt(address, b"valid")
    assert not again.charged  # authenticated lately: not charged at all
    guard.settle(again, authenticated=True)

    for token in (b"bad-1", b"bad-2"):
        attempt = guard.attempt(address, token)
        guard.settle(attempt, authenticated=False)
        assert guard.failed_recently(token)
    refused = guard.attempt(address, b"bad-3").refused
    assert refused is not None
    assert refused.retry_after_seconds == 30
    assert guard.attempt(address, b"valid").refused is None

    # a lookup that did not complete is not the token's failure
    other = address_key("192.0.2.2")
    for _ in range(5):
        guard.settle(guard.attempt(other, b"maybe"), authenticated=None)
    assert guard.attempt(other, b"maybe").refused is None
    assert not guard.failed_recently(b"maybe")


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # one /64
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("192.0.2.1", "::ffff:192.0.2.1", True),  # IPv4, mapped or not
        ("192.0.2.1", "192.0.2.2", False),
        ("testclient", "testclient", True),  # not an address: as it is
    ],
)
def test_addresses_are_counted_by_host_and_ipv6_by_network(
    one: str, other: str, same: bool
) -> None:
    assert (address_key(one) == address_key(other)) is same
