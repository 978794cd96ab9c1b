"""How a mutation runs: its writes in a savepoint of the request's transaction; expected
failures (Rejected) roll the savepoint back and become the payload's userErrors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from resolvers.context import Context
from resolvers.errors import Rejected, UserError

T = TypeVar("T")


async def write(
    ctx: Context, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T | list[UserError]:
    """Runs `work` on the request's connection inside a savepoint. Returns its result, or
    the user errors it raised with Rejected (and then nothing it wrote remains)."""
    try:
        async with ctx.session.write() as conn:
            return await work(conn)
    except Rejected as rejected:
        return rejected.errors
