"""CORS: only the configured origins may call the API from a browser (preflight with the
Authorization header included), refusals included. WebSockets are not served, so a
handshake is refused whatever its origin (tests/test_websocket.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import server
from schema.http import MAX_BODY_BYTES, parse_origins
from tests.conftest import Org, websocket_handshake

ALLOWED = "https://inbox.example"
OTHER = "https://evil.example"
VIEWER = "{ viewer { name } }"


@pytest.fixture(scope="module")
async def cors_app(database: str) -> AsyncIterator[Starlette]:
    settings = dataclasses.replace(
        server.Settings.from_env(database),
        cors_allowed_origins=(ALLOWED, "http://localhost:5173"),
        rate_limit_per_minute=1,
        pool_size=2,
    )
    app = server.create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser(cors_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cors_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        yield http


async def _preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


async def _post(
    client: httpx.AsyncClient, origin: str, token: str, **kwargs: Any
) -> httpx.Response:
    kwargs.setdefault("json", {"query": VIEWER})
    return await client.post(
        "/graphql",
        headers={"Origin": origin, "Authorization": f"Bearer {token}"},
        **kwargs,
    )


async def test_a_preflight_from_an_allowed_origin_is_answered(browser: httpx.AsyncClient) -> None:
    response = await _preflight(browser, ALLOWED)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens only


async def test_a_preflight_from_another_origin_is_refused(browser: httpx.AsyncClient) -> None:
    response = await _preflight(browser, OTHER)

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_responses_name_the_allowed_origin_only(
    browser: httpx.AsyncClient, demo_org: Org
) -> None:
    assert demo_org.agent.token is not None
    assert demo_org.admin.token is not None
    allowed = await _post(browser, ALLOWED, demo_org.agent.token)
    other = await _post(browser, OTHER, demo_org.admin.token)

    assert allowed.json()["data"] == {"viewer": {"name": "Sam Agent"}}
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    exposed = allowed.headers["access-control-expose-headers"].lower()
    assert {"x-request-id", "retry-after"} <= {h.strip() for h in exposed.split(",")}
    assert "access-control-allow-origin" not in other.headers


async def test_refusals_reach_the_allowed_origin_too(
    browser: httpx.AsyncClient, demo_org: Org
) -> None:
    assert demo_org.agent.token is not None
    too_large = await _post(
        browser, ALLOWED, demo_org.agent.token, json={"query": "#" * MAX_BODY_BYTES}
    )
    assert (await _post(browser, ALLOWED, demo_org.agent.token)).status_code == 200
    too_many = await _post(browser, ALLOWED, demo_org.agent.token)

    assert too_large.status_code == 413
    assert too_many.status_code == 429
    for response in (too_large, too_many):
        assert response.headers["access-control-allow-origin"] == ALLOWED


async def test_no_origin_is_allowed_by_default(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    settings = server.Settings.from_env(database)
    # A preflight is answered before any route, so the app needs no database here.
    transport = httpx.ASGITransport(app=server.create_app(settings))

    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        response = await _preflight(http, ALLOWED)

    assert settings.cors_allowed_origins == ()
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_origins_come_from_the_environment(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CORS_ALLOWED_ORIGINS", " https://Inbox.Example:443, http://localhost:5173,,"
    )

    assert server.Settings.from_env(database).cors_allowed_origins == (
        "http://localhost:5173",
        "https://inbox.example",
    )


@pytest.mark.parametrize("value", ["inbox.example", "https://inbox.example/app", "null"])
def test_an_entry_that_is_not_an_origin_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ValueError, match="Invalid origin"):
        parse_origins(f"{ALLOWED},{value}")


@pytest.mark.parametrize("origin", [ALLOWED, None, "https://api.example", OTHER])
async def test_a_websocket_is_refused_whatever_its_origin(
    cors_app: Starlette, origin: str | None
) -> None:
    sent = await websocket_handshake(
        cors_app, host="api.example", client="203.0.113.9", origin=origin
    )

    assert [message["type"] for message in sent] == ["websocket.close"]
