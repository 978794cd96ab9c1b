"""schema.together.settle: coroutines awaited together in the current task give what
asyncio.gather(..., return_exceptions=True) gives, batch their loaders' keys as it does,
and end cleanly when cancelled."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import pytest
from aiodataloader import DataLoader

from schema.together import settle


class Boom(Exception):
    pass


async def at_once(value: int) -> int:
    return value


async def raising() -> int:
    raise Boom("now")


async def after(future: asyncio.Future[int]) -> int:
    return await future + 1


async def yielding(times: int) -> int:
    for _ in range(times):
        await asyncio.sleep(0)
    return times


class Custom:
    """An awaitable that is neither a coroutine nor a future."""

    def __await__(self) -> Generator[Any, None, str]:
        yield from asyncio.sleep(0).__await__()
        return "custom"


def awaitables(loop: asyncio.AbstractEventLoop) -> list[Awaitable[Any]]:
    future: asyncio.Future[int] = loop.create_future()
    loop.call_later(0.01, future.set_result, 41)
    failed: asyncio.Future[int] = loop.create_future()
    loop.call_soon(failed.set_exception, Boom("later"))
    given: asyncio.Future[int] = loop.create_future()
    loop.call_soon(given.set_result, 7)
    return [
        at_once(1),
        raising(),
        after(future),
        after(failed),
        yielding(3),
        given,
        Custom(),
    ]


def described(results: list[Any]) -> list[Any]:
    return [repr(value) if isinstance(value, BaseException) else value for value in results]


async def test_results_and_errors_are_gathers() -> None:
    loop = asyncio.get_running_loop()

    settled = await settle(awaitables(loop))
    gathered = await asyncio.gather(*awaitables(loop), return_exceptions=True)

    assert described(settled) == described(gathered)
    assert described(settled) == [
        1,
        "Boom('now')",
        42,
        "Boom('later')",
        3,
        7,
        "custom",
    ]


async def test_no_task_is_made_for_a_coroutine() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    loop.call_soon(future.set_result, 1)
    before = len(asyncio.all_tasks())
    seen: list[int] = []

    async def counting() -> int:
        seen.append(len(asyncio.all_tasks()))
        return await future

    assert await settle([counting() for _ in range(20)]) == [1] * 20
    assert seen == [before] * 20  # no task but the test's own


async def test_loaders_see_every_key_of_a_round_in_one_batch() -> None:
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(list(keys))
        return [key * 10 for key in keys]

    loader = DataLoader(load)

    async def twice(key: int) -> int:
        first = await loader.load(key)
        second: int = await loader.load(first)
        return second

    results = await settle([twice(key) for key in range(1, 6)])

    assert results == [100, 200, 300, 400, 500]
    assert batches == [[1, 2, 3, 4, 5], [10, 20, 30, 40, 50]]


async def test_a_coroutine_waiting_on_another_is_not_stuck() -> None:
    event = asyncio.Event()

    async def waits() -> str:
        await event.wait()
        return "woken"

    async def wakes() -> str:
        await asyncio.sleep(0.01)
        event.set()
        await asyncio.sleep(0.01)
        return "set"

    assert await asyncio.wait_for(settle([waits(), wakes()]), timeout=5) == ["woken", "set"]


async def test_cancelling_ends_every_coroutine_and_leaves_their_futures_alone() -> None:
    loop = asyncio.get_running_loop()
    shared: asyncio.Future[int] = loop.create_future()
    ended: list[str] = []

    async def waiting(name: str) -> int:
        try:
            return await shared
        except asyncio.CancelledError:
            ended.append(name)
            raise

    task = asyncio.ensure_future(settle([waiting("a"), waiting("b"), asyncio.sleep(10)]))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ended == ["a", "b"]
    # A loader's future is shared by every resolver that asked for its key.
    assert not shared.cancelled()
    shared.set_result(1)


async def test_a_cancelled_coroutine_cancels_the_whole_once_the_others_finish() -> None:
    finished: list[str] = []

    async def cancelled() -> None:
        raise asyncio.CancelledError

    async def slower() -> None:
        await asyncio.sleep(0.01)
        finished.append("slower")

    with pytest.raises(asyncio.CancelledError):
        await settle([cancelled(), slower()])
    assert finished == ["slower"]


@types.coroutine
def bad_yield() -> Generator[Any, None, None]:
    yield "not a future"


async def refused(make: Callable[[], Awaitable[Any]]) -> str:
    try:
        await make()
    except RuntimeError as error:
        return str(error)
    return "accepted"


async def test_a_yield_a_task_refuses_is_refused() -> None:
    settled = await settle([refused(bad_yield)])
    gathered = await asyncio.gather(refused(bad_yield))

    assert settled == ["Task got bad yield: 'not a future'"]
    assert list(gathered) == settled
