"""GraphiQL, served entirely by this server: no CDN, no inline script, a strict CSP.

Its files come from npm (`web/package.json`, installed with `npm ci --prefix web`) and
from `web/graphiql/` (the script that starts it). Asset URLs carry a digest of the file,
so they can be cached for a year; when the npm files are missing, the page says how to
install them. The page passes its settings in data- attributes: the endpoint and, only
when the server runs with demo data, the demo admin's bearer token for the header
editor (INBOX_GRAPHIQL_TOKEN, set by `python server.py` in demo mode). The token goes
only to a page asked for on the server's own machine (`on_this_machine`): anyone who
can reach the server from elsewhere would otherwise read an admin's token from it.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN_ENV = "INBOX_GRAPHIQL_TOKEN"
WEB_DIR_ENV = "INBOX_WEB_DIR"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_PREFIX = "/graphiql/static/"
INSTALL_COMMAND = "npm ci --prefix web --omit=dev"

# URL name → file under the web directory.
ASSETS = {
    "react.production.min.js": "node_modules/react/umd/react.production.min.js",
    "react-dom.production.min.js": "node_modules/react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "node_modules/graphiql/graphiql.min.js",
    "graphiql.min.css": "node_modules/graphiql/graphiql.min.css",
    "start.js": "graphiql/start.js",
    "page.css": "graphiql/page.css",
}
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "start.js")
STYLES = ("graphiql.min.css", "page.css")
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# GraphiQL sets element styles from script (allowed by style-src 'self'); its fonts are
# data: URLs inside its stylesheet.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
IMMUTABLE = "public, max-age=31536000, immutable"


def offer_token(token: str | None) -> None:
    """Sets (or, with None, clears) the token the GraphiQL page pre-fills, for the app
    this process and its workers build. Only demo mode offers one."""
    if token:
        os.environ[TOKEN_ENV] = token
    else:
        os.environ.pop(TOKEN_ENV, None)


@dataclass(frozen=True, slots=True)
class _Fingerprint:
    size: int
    mtime_ns: int
    digest: str


class GraphiQL:
    def __init__(self, web_dir: Path = WEB_DIR, *, token: str | None = None) -> None:
        self.web_dir = web_dir
        self.token = token or None
        self._digests: dict[str, _Fingerprint] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> GraphiQL:
        web_dir = environ.get(WEB_DIR_ENV)
        return cls(Path(web_dir) if web_dir else WEB_DIR, token=environ.get(TOKEN_ENV))

    def routes(self) -> list[Route]:
        return [Route(STATIC_PREFIX + "{name}", self.asset, name="graphiql-static")]

    def missing(self) -> list[str]:
        return [path for path in ASSETS.values() if not (self.web_dir / path).is_file()]

    def page(self, request: Request) -> Response:
        """The GraphiQL page, or (503) instructions when its files are not installed."""
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-store",  # it may carry the demo token
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }
        missing = self.missing()
        if missing:
            return HTMLResponse(_install_page(missing), status_code=503, headers=headers)
        root = request.scope.get("root_path", "")
        endpoint = request.url.path
        styles = "\n".join(
            f'<link rel="stylesheet" href="{self._url(root, name)}">' for name in STYLES
        )
        scripts = "\n".join(f'<script src="{self._url(root, name)}"></script>' for name in SCRIPTS)
        token = (
            f' data-token="{html.escape(self.token)}"'
            if self.token and on_this_machine(request)
            else ""
        )
        return HTMLResponse(
            _PAGE.format(
                styles=styles,
                scripts=scripts,
                endpoint=html.escape(endpoint),
                token=token,
            ),
            headers=headers,
        )

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        relative = ASSETS.get(name)
        if relative is None:
            return PlainTextResponse("Not Found", status_code=404)
        path = self.web_dir / relative
        if not path.is_file():
            return PlainTextResponse(
                f"{relative} is not installed: run `{INSTALL_COMMAND}`", status_code=404
            )
        fresh = request.query_params.get("v") == self._digest(name)
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[path.suffix],
            headers={
                "Cache-Control": IMMUTABLE if fresh else "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def _url(self, root: str, name: str) -> str:
        return f"{root}{STATIC_PREFIX}{name}?v={self._digest(name)}"

    def _digest(self, name: str) -> str:
        """A digest of the asset's content, recomputed when the file changes."""
        path = self.web_dir / ASSETS[name]
        try:
            stat = path.stat()
        except OSError:
            return ""
        known = self._digests.get(name)
        if known is None or (known.size, known.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            known = _Fingerprint(stat.st_size, stat.st_mtime_ns, digest)
            self._digests[name] = known
        return known.digest


def on_this_machine(request: Request) -> bool:
    """Whether a request comes from the server's own machine, straight: from a loopback
    address, to a loopback name (127.0.0.1, localhost, [::1], any port), through no
    proxy. A Host header alone is the caller's word; a loopback address alone is also
    what a proxy on this machine, or a tunnel, shows for callers from anywhere."""
    headers = request.headers
    if "forwarded" in headers or "x-forwarded-for" in headers:
        return False
    client = request.client.host if request.client is not None else ""
    return _is_loopback(client) and _is_loopback(_host_name(headers.get("host", "")))


def _host_name(host: str) -> str:
    """The name of a Host header, without its port (and an IPv6 address's brackets)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _install_page(missing: list[str]) -> str:
    files = "\n".join(f"<li><code>web/{html.escape(path)}</code></li>" for path in missing)
    return _INSTALL_PAGE.format(command=INSTALL_COMMAND, files=files)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inbox Contacts API · GraphiQL</title>
<link rel="icon" href="data:,">
{styles}
</head>
<body>
<div id="graphiql" data-endpoint="{endpoint}"{token}>Loading GraphiQL…</div>
{scripts}
</body>
</html>
"""

_INSTALL_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GraphiQL is not installed</title>
</head>
<body>
<h1>GraphiQL is not installed</h1>
<p>This server serves GraphiQL from its own files, which come from npm. Install them
from the project directory, then reload this page:</p>
<pre>{command}</pre>
<p>(<code>npm ci --prefix web</code> also installs the Node tools the tests use.)
Missing:</p>
<ul>
{files}
</ul>
<p>The API itself works without them: POST queries to this URL.</p>
</body>
</html>
"""
