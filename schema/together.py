"""Awaiting many coroutines at once in the current task, without a task for each.

`asyncio.gather(*coroutines)` wraps every coroutine in a task: created, scheduled, stepped
through the event loop, its result handed back by a callback. For the fifty resolvers of a
queue page's contacts that is some 200 microseconds, more than the resolvers themselves
take. `settle` steps the coroutines itself, as tasks would: each runs until it waits on a
future, and is resumed once that future is done. Every coroutine is started before any is
waited for, so the loaders they call see all of their keys in the same tick, as they do
under gather; none waits for another's future.

What differs from tasks, and why it does not matter here:
- The coroutines run in the current task and its context: `asyncio.current_task()` is the
  request's, and a context variable one sets is seen by those resumed after it. Cancelling
  the current task cancels all of them; so does a coroutine that cancels its own task,
  which is what `asyncio.timeout()` does when it expires (and `asyncio.wait_for` from
  Python 3.12). Resolvers that need a deadline give it to what they wait on (asyncpg's
  `timeout=`), as this schema's do.
- A future a coroutine waits on is not cancelled when the current task is: the current
  task waits on a future of its own. (A task cancels the future it waits on, and a
  loader's future is shared by every resolver that asked for the same key.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterable
from types import CoroutineType
from typing import Any

# What a coroutine gives back when a step suspends it: a future it waits on, or None for a
# bare yield (asyncio.sleep(0)), which asks for one pass of the event loop.
_Step = Coroutine[Any, Any, Any]


async def settle(awaitables: Iterable[Awaitable[Any]]) -> list[Any]:
    """Each awaitable's result, or the Exception it raised, in order, as
    `asyncio.gather(..., return_exceptions=True)` gives them. A BaseException that is not
    an Exception (a cancellation) is raised once the others are closed."""
    loop = asyncio.get_running_loop()
    results: list[Any] = []
    # (index, coroutine, what to throw into it or None): to be stepped now
    ready: list[tuple[int, _Step, BaseException | None]] = []
    # (index, coroutine, the future it waits on or None for a bare yield)
    waiting: list[tuple[int, _Step, asyncio.Future[Any] | None]] = []
    futures: list[tuple[int, asyncio.Future[Any]]] = []  # awaitables that are not coroutines
    stepped: list[tuple[int, _Step, BaseException | None]] = []
    for index, awaitable in enumerate(awaitables):
        results.append(None)
        if type(awaitable) is CoroutineType:
            ready.append((index, awaitable, None))
        else:  # a future, or another awaitable, which a task runs, as under gather
            futures.append((index, asyncio.ensure_future(awaitable)))
    try:
        while True:
            stepped, ready = ready, []
            for index, coroutine, thrown in stepped:
                try:
                    step = coroutine.send(None) if thrown is None else coroutine.throw(thrown)
                except StopIteration as stop:
                    results[index] = stop.value
                    continue
                except (Exception, asyncio.CancelledError) as error:  # as a task ends
                    results[index] = error
                    continue
                future, refused = _waited(step, loop)
                if refused is None:
                    waiting.append((index, coroutine, future))
                else:
                    ready.append((index, coroutine, refused))
            if ready:
                continue
            if not waiting and not futures:
                break
            if any(future is None for _, _, future in waiting):
                await asyncio.sleep(0)  # the pass of the event loop a bare yield asks for
            elif not any(future.done() for _, _, future in waiting if future) and not any(
                future.done() for _, future in futures
            ):
                await _first_done(
                    [future for _, _, future in waiting if future is not None]
                    + [future for _, future in futures],
                    loop,
                )
            still: list[tuple[int, _Step, asyncio.Future[Any] | None]] = []
            for index, coroutine, future in waiting:
                if future is None or future.done():
                    ready.append((index, coroutine, None))
                else:
                    still.append((index, coroutine, future))
            waiting = still
            pending = []
            for index, future in futures:
                if future.done():
                    results[index] = _outcome(future)
                else:
                    pending.append((index, future))
            futures = pending
    except BaseException:  # cancelled (or interrupted): nothing is left running
        for _, coroutine, _ in waiting:
            _cancel(coroutine)
        for _, coroutine, _ in stepped + ready:
            coroutine.close()  # nothing for one that has finished
        for _, future in futures:
            future.cancel()
        raise
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return results


def _waited(
    step: Any, loop: asyncio.AbstractEventLoop
) -> tuple[asyncio.Future[Any] | None, RuntimeError | None]:
    """The future a suspended coroutine waits on (None for a bare yield), or the error a
    task throws into a coroutine that yielded something else."""
    if step is None:
        return None, None
    blocking = getattr(step, "_asyncio_future_blocking", None)
    if blocking is None:
        return None, RuntimeError(f"Task got bad yield: {step!r}")
    if not blocking:
        return None, RuntimeError(f"yield was used instead of yield from with {step!r}")
    if step.get_loop() is not loop:
        return None, RuntimeError(f"Task got Future {step!r} attached to a different loop")
    step._asyncio_future_blocking = False
    return step, None


def _outcome(future: asyncio.Future[Any]) -> Any:
    if future.cancelled():
        return asyncio.CancelledError()
    error = future.exception()
    return future.result() if error is None else error


async def _first_done(futures: list[asyncio.Future[Any]], loop: asyncio.AbstractEventLoop) -> None:
    """Waits until one of the futures is done. The current task waits on a future of its
    own, so cancelling the task cancels none of these."""
    unique = list({id(future): future for future in futures}.values())
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: Any) -> None:
        if not woken.done():
            woken.set_result(None)

    for future in unique:
        future.add_done_callback(wake)
    try:
        await woken
    finally:
        for future in unique:
            future.remove_done_callback(wake)


def _cancel(coroutine: _Step) -> None:
    """Ends a suspended coroutine as a cancelled task's would end: CancelledError thrown
    in (its cleanup runs), and closed if it carries on regardless."""
    try:
        coroutine.throw(asyncio.CancelledError())
    except BaseException:  # it ended, as it should
        return
    coroutine.close()
