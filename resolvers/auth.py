"""Bearer tokens and roles."""

from __future__ import annotations

import hashlib
import secrets

from db.agents import Agent
from resolvers.errors import Forbidden

TOKEN_PREFIX = "ica_"


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> bytes:
    """What the database stores and looks a token up by; never the token itself."""
    return hashlib.sha256(token.encode()).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def require_admin(agent: Agent) -> None:
    """The one place admin-only operations are guarded. Raises Forbidden."""
    if agent.role != "ADMIN":
        raise Forbidden("Only administrators can do this")
