"""Rate limiting per agent token: a budget per minute, 429 RATE_LIMITED with a retry-after
hint once it is spent, and the budget refilling with time. The clock is the test's."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

import server
from resolvers.ratelimit import RateLimiter
from tests.conftest import GraphQL, Org, Reply

BUDGET = 3  # requests per minute: one more every 20 seconds
VIEWER = "{ viewer { name } }"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def limited_app(database: str, clock: Clock) -> AsyncIterator[Starlette]:
    settings = dataclasses.replace(
        server.Settings.from_env(database), rate_limit_per_minute=BUDGET, pool_size=2
    )
    app = server.create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def limited(limited_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _as(client: httpx.AsyncClient, caller: GraphQL) -> GraphQL:
    return GraphQL(client, caller.token)


def _remaining(reply: Reply) -> int:
    return int(reply.headers["x-ratelimit-remaining"])


def _limiter(app: Starlette) -> RateLimiter:
    limiter = app.state.rate_limiter
    assert isinstance(limiter, RateLimiter)
    return limiter


def _assert_limited(reply: Reply, retry_after: int) -> None:
    assert reply.status == 429
    assert reply.codes == ["RATE_LIMITED"]
    assert reply.errors[0]["extensions"]["retryAfter"] == retry_after
    assert reply.headers["retry-after"] == str(retry_after)
    assert reply.headers["x-request-id"]
    assert "data" not in reply.body


async def test_the_budget_trips_and_refills(
    limited: httpx.AsyncClient, clock: Clock, demo_org: Org
) -> None:
    agent = _as(limited, demo_org.agent)

    # given: the budget spent at once
    spent = [await agent(VIEWER) for _ in range(BUDGET)]
    assert [reply.data for reply in spent] == [{"viewer": {"name": "Sam Agent"}}] * BUDGET
    assert [_remaining(reply) for reply in spent] == [2, 1, 0]
    assert spent[0].headers["x-ratelimit-limit"] == str(BUDGET)

    # when / then: refused, without touching the database
    refused = await agent(VIEWER)
    _assert_limited(refused, 20)
    assert refused.statements == -1  # no X-Sql-Statements: nothing ran

    clock.advance(19)
    _assert_limited(await agent(VIEWER), 1)

    # one request every 20 seconds
    clock.advance(1)
    assert (await agent(VIEWER)).data == {"viewer": {"name": "Sam Agent"}}
    _assert_limited(await agent(VIEWER), 20)

    # a quiet minute refills the whole budget
    clock.advance(60)
    again = [await agent(VIEWER) for _ in range(BUDGET)]
    assert [_remaining(reply) for reply in again] == [2, 1, 0]
    _assert_limited(await agent(VIEWER), 20)


async def test_refused_requests_cost_nothing(
    limited: httpx.AsyncClient, clock: Clock, demo_org: Org
) -> None:
    agent = _as(limited, demo_org.agent)
    for _ in range(BUDGET):
        assert (await agent(VIEWER)).status == 200

    for _ in range(10):
        _assert_limited(await agent(VIEWER), 20)
    clock.advance(20)

    assert (await agent(VIEWER)).status == 200


async def test_each_token_has_its_own_budget(
    limited: httpx.AsyncClient, clock: Clock, demo_org: Org
) -> None:
    agent, admin = _as(limited, demo_org.agent), _as(limited, demo_org.admin)
    for _ in range(BUDGET):
        assert (await agent(VIEWER)).status == 200
    _assert_limited(await agent(VIEWER), 20)

    reply = await admin(VIEWER)

    assert reply.data == {"viewer": {"name": "Alex Admin"}}
    assert _remaining(reply) == BUDGET - 1


async def test_unknown_tokens_are_not_remembered(
    limited_app: Starlette, limited: httpx.AsyncClient, clock: Clock, demo_org: Org
) -> None:
    limiter = _limiter(limited_app)
    clock.advance(120)  # every earlier budget is full again
    assert (await _as(limited, demo_org.agent)(VIEWER)).status == 200
    assert len(limiter) == 1  # the sweep forgot the earlier tokens

    for n in range(20):
        reply = await GraphQL(limited, f"ica_unknown-{n}")(VIEWER)
        assert reply.status == 401

    assert len(limiter) == 1


def test_the_budget_comes_from_the_environment(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "120")
    assert server.Settings.from_env(database).rate_limit_per_minute == 120
    limiter = _limiter(server.create_app(server.Settings.from_env(database)))
    assert (limiter.budget, limiter.window) == (120, 60.0)

    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")
    assert server.create_app(server.Settings.from_env(database)).state.rate_limiter is None

    monkeypatch.delenv("RATE_LIMIT_PER_MINUTE")
    assert server.Settings.from_env(database).rate_limit_per_minute == 600


def test_a_budget_that_does_not_divide_the_window_allows_exactly_the_budget() -> None:
    clock = Clock()
    limiter = RateLimiter(7, 60.0, clock=clock)

    verdicts = [limiter.take(b"key") for _ in range(8)]

    assert [v.allowed for v in verdicts] == [True] * 7 + [False]
    assert [v.remaining for v in verdicts[:7]] == [6, 5, 4, 3, 2, 1, 0]
    assert verdicts[7].retry_after_seconds == 9  # 60 / 7 = 8.57 s, rounded up
    assert limiter.check(b"key") == verdicts[7]  # checking does not count


def test_a_limiter_needs_a_budget() -> None:
    with pytest.raises(ValueError, match="positive budget"):
        RateLimiter(0)
