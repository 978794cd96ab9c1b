"""GraphiQL from the server itself (schema/graphiql.py): the page, its assets and their
caching, the install page, and the demo token."""

from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

import server
from schema import graphiql
from schema.graphiql import ASSETS, SCRIPTS, STYLES, GraphiQL
from tests.conftest import Org

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
VIEWER = "{ viewer { role } }"

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A web directory with a stand-in for every asset."""
    for name, relative in ASSETS.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* {name} */\n")
    return tmp_path


@pytest.fixture
def app_client(database: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A client of an app built with the given environment (the page needs no database)."""

    @asynccontextmanager
    async def start(
        base_url: str = "http://local",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        **environment: str,
    ) -> AsyncIterator[httpx.AsyncClient]:
        monkeypatch.delenv(graphiql.TOKEN_ENV, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        application = server.create_app(server.Settings.from_env(database))
        transport = httpx.ASGITransport(app=application, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http

    return start


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


async def test_the_page_loads_only_local_scripts_and_styles(
    web_dir: Path, app_client: Client
) -> None:
    async with app_client(INBOX_WEB_DIR=str(web_dir)) as http:
        response = await http.get("/graphql", headers={"Accept": BROWSER})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    scripts = re.findall(r"<script([^>]*)>", page)
    assert [re.findall(r'src="([^"?]+)', tag) for tag in scripts] == [
        [f"/graphiql/static/{name}"] for name in SCRIPTS
    ]
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"?]+)\?v=(\w+)"', page)
    assert stylesheets == [
        (f"/graphiql/static/{name}", digest(web_dir / ASSETS[name])) for name in STYLES
    ]
    assert "<style" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert 'data-endpoint="/graphql"' in page
    assert "data-token" not in page


async def test_the_page_sends_a_strict_content_security_policy(
    web_dir: Path, app_client: Client
) -> None:
    async with app_client(INBOX_WEB_DIR=str(web_dir)) as http:
        response = await http.get("/graphql", headers={"Accept": BROWSER})

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("base_url", "client"),
    [
        ("http://127.0.0.1:8000", ("127.0.0.1", 50000)),
        ("http://localhost:8000", ("127.0.0.1", 50000)),
        ("http://LocalHost", ("::1", 50000)),
        ("http://[::1]:8000", ("::1", 50000)),
    ],
)
async def test_demo_mode_prefills_the_token_on_this_machine(
    web_dir: Path, app_client: Client, base_url: str, client: tuple[str, int]
) -> None:
    token = 'ica_demo-"token"<&>'
    async with app_client(
        base_url, client, INBOX_WEB_DIR=str(web_dir), INBOX_GRAPHIQL_TOKEN=token
    ) as http:
        response = await http.get("/graphql", headers={"Accept": BROWSER})

    assert f'data-token="{html.escape(token)}"' in response.text


@pytest.mark.parametrize(
    ("base_url", "client", "headers"),
    [
        # another name for this machine, as a browser elsewhere would send it
        ("http://inbox.example:8000", ("127.0.0.1", 50000), {}),
        ("http://192.0.2.10:8000", ("127.0.0.1", 50000), {}),
        ("http://127.0.0.1.example:8000", ("127.0.0.1", 50000), {}),
        ("http://localhost.example", ("127.0.0.1", 50000), {}),
        # a loopback name, asked from another machine (a Host header is the caller's word)
        ("http://127.0.0.1:8000", ("192.0.2.77", 50000), {}),
        ("http://localhost:8000", ("2001:db8::7", 50000), {}),
        # through a proxy on this machine
        ("http://127.0.0.1:8000", ("127.0.0.1", 50000), {"X-Forwarded-For": "192.0.2.77"}),
        ("http://127.0.0.1:8000", ("127.0.0.1", 50000), {"Forwarded": "for=192.0.2.77"}),
    ],
)
async def test_the_token_is_never_offered_to_another_machine(
    web_dir: Path,
    app_client: Client,
    base_url: str,
    client: tuple[str, int],
    headers: dict[str, str],
) -> None:
    async with app_client(
        base_url, client, INBOX_WEB_DIR=str(web_dir), INBOX_GRAPHIQL_TOKEN="ica_demo-secret"
    ) as http:
        response = await http.get("/graphql", headers={"Accept": BROWSER, **headers})

    assert response.status_code == 200
    assert "data-token" not in response.text
    assert "ica_demo-secret" not in response.text


def test_offer_token_sets_and_clears_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(graphiql.TOKEN_ENV, raising=False)
    graphiql.offer_token("ica_demo")
    assert os.environ[graphiql.TOKEN_ENV] == "ica_demo"
    assert GraphiQL.from_env().token == "ica_demo"
    graphiql.offer_token(None)
    assert graphiql.TOKEN_ENV not in os.environ
    assert GraphiQL.from_env().token is None


async def test_assets_are_served_with_a_long_cache_when_the_digest_matches(
    web_dir: Path, app_client: Client
) -> None:
    script = web_dir / ASSETS["graphiql.min.js"]
    async with app_client(INBOX_WEB_DIR=str(web_dir)) as http:
        fresh = await http.get(f"/graphiql/static/graphiql.min.js?v={digest(script)}")
        stale = await http.get("/graphiql/static/graphiql.min.js?v=0123456789abcdef")
        css = await http.get("/graphiql/static/graphiql.min.css")

    assert fresh.status_code == 200
    assert fresh.text == script.read_text()
    assert fresh.headers["content-type"] == "text/javascript; charset=utf-8"
    assert fresh.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert stale.headers["cache-control"] == "no-cache"
    assert css.headers["content-type"] == "text/css; charset=utf-8"


async def test_a_changed_asset_gets_a_new_url(web_dir: Path, app_client: Client) -> None:
    async with app_client(INBOX_WEB_DIR=str(web_dir)) as http:
        before = (await http.get("/graphql", headers={"Accept": BROWSER})).text
        (web_dir / ASSETS["start.js"]).write_text("/* start.js, new version */\n")
        after = (await http.get("/graphql", headers={"Accept": BROWSER})).text

    url = r"/graphiql/static/start\.js\?v=(\w+)"
    assert re.findall(url, before) != re.findall(url, after)
    assert re.findall(url, after) == [digest(web_dir / ASSETS["start.js"])]


@pytest.mark.parametrize("name", ["package.json", "..%2Fpackage.json", "graphiql.js"])
async def test_only_the_listed_assets_are_served(
    web_dir: Path, app_client: Client, name: str
) -> None:
    (web_dir / "package.json").write_text("{}")
    async with app_client(INBOX_WEB_DIR=str(web_dir)) as http:
        response = await http.get(f"/graphiql/static/{name}")
    assert response.status_code == 404


async def test_missing_assets_get_installation_instructions(
    tmp_path: Path, app_client: Client
) -> None:
    async with app_client(INBOX_WEB_DIR=str(tmp_path)) as http:
        page = await http.get("/graphql", headers={"Accept": BROWSER})
        asset = await http.get("/graphiql/static/graphiql.min.js")

    assert page.status_code == 503
    assert "npm ci --prefix web" in page.text
    assert "web/node_modules/graphiql/graphiql.min.js" in page.text
    assert asset.status_code == 404
    assert "npm ci --prefix web" in asset.text


def test_the_committed_files_of_the_page_exist() -> None:
    missing = GraphiQL().missing()
    assert "graphiql/start.js" not in missing
    assert "graphiql/page.css" not in missing


async def test_browsers_sending_a_query_get_its_result_not_the_page(
    demo_org: Org, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": VIEWER},
        headers={"Accept": BROWSER, "Authorization": f"Bearer {demo_org.agent.token}"},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"role": "AGENT"}}


async def test_clients_not_asking_for_html_get_no_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "*/*"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
