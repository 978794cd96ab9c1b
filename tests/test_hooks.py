"""Extension hooks run by schema/hooks.py as Strawberry's own runner runs them: in order,
around the stages, with contextlib's semantics for a stage that raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.hooks import HookRunner, Stage

EVENTS: list[str] = []


def _recording(label: str) -> type[SchemaExtension]:
    class Recording(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            EVENTS.append(f"{label} operation")
            yield
            EVENTS.append(f"{label} operation done")

        def on_parse(self) -> Iterator[None]:
            EVENTS.append(f"{label} parse")
            yield
            EVENTS.append(f"{label} parse done")

        def on_validate(self) -> Iterator[None]:
            EVENTS.append(f"{label} validate")
            yield
            EVENTS.append(f"{label} validate done")

        def on_execute(self) -> Iterator[None]:
            EVENTS.append(f"{label} execute")
            yield
            EVENTS.append(f"{label} execute done {self.execution_context.result is not None}")

        def get_results(self) -> dict[str, Any]:
            return {label: len(EVENTS)}

    return Recording


class AsyncParse(SchemaExtension):
    async def on_parse(self) -> AsyncIterator[None]:
        EVENTS.append("async parse")
        yield
        EVENTS.append("async parse done")


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self) -> str:
        EVENTS.append("resolver")
        return "hello"

    @strawberry.field
    def failing(self) -> str:
        raise ValueError("no")


class Hooked(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: Any, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)


@pytest.mark.parametrize(
    "extensions",
    [
        [_recording("a"), _recording("b")],
        [_recording("a"), AsyncParse, _recording("b")],
    ],
    ids=["generator hooks", "with an async generator hook"],
)
@pytest.mark.parametrize("query", ["{ greeting }", "{ failing }", "{ nope }", "{"])
async def test_hooks_run_as_strawberry_runs_them(
    extensions: list[type[SchemaExtension]], query: str
) -> None:
    runs = []
    for schema_class in (strawberry.Schema, Hooked):
        EVENTS.clear()
        schema = schema_class(query=Query, extensions=extensions)
        result = await schema.execute(query)
        runs.append((list(EVENTS), result.data, result.errors, result.extensions))

    ours, strawberry_s = runs[1], runs[0]
    assert ours[0] == strawberry_s[0]
    assert ours[1:] == strawberry_s[1:]
    assert "a operation done" in ours[0]


def _stage(*hooks: Any) -> Stage:
    return Stage([(hook, None) for hook in hooks])  # type: ignore[misc]


def _plain(label: str) -> Any:
    def hook(extension: Any) -> Iterator[None]:
        EVENTS.append(label)
        try:
            yield
        finally:
            EVENTS.append(f"{label} done")

    return hook


def _suppressing(extension: Any) -> Iterator[None]:
    try:
        yield
    except ValueError:
        EVENTS.append("suppressed")


def _replacing(extension: Any) -> Iterator[None]:
    try:
        yield
    except ValueError as error:
        raise KeyError("replaced") from error


def _twice(extension: Any) -> Iterator[None]:
    yield
    yield


def _never(extension: Any) -> Iterator[None]:
    if extension is not None:
        yield


def _failing_setup(extension: Any) -> Iterator[None]:
    raise LookupError("setup")
    yield  # a generator function


async def test_a_stage_ends_its_hooks_last_first() -> None:
    EVENTS.clear()
    async with _stage(_plain("outer"), _plain("inner")):
        EVENTS.append("body")
    assert EVENTS == ["outer", "inner", "body", "inner done", "outer done"]


async def test_an_error_of_the_stage_goes_through_its_hooks() -> None:
    EVENTS.clear()
    with pytest.raises(ValueError, match="body"):
        async with _stage(_plain("outer"), _plain("inner")):
            raise ValueError("body")
    assert EVENTS == ["outer", "inner", "inner done", "outer done"]


async def test_a_hook_may_suppress_the_error_for_the_hooks_begun_before_it() -> None:
    EVENTS.clear()
    with _stage(_plain("outer"), _suppressing):
        raise ValueError("body")
    assert EVENTS == ["outer", "suppressed", "outer done"]


async def test_a_hook_may_replace_the_error() -> None:
    with pytest.raises(KeyError) as raised, _stage(_replacing):
        raise ValueError("body")
    assert isinstance(raised.value.__cause__, ValueError)


async def test_a_hook_that_does_not_yield_once_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="more than once"), _stage(_twice):
        pass
    with pytest.raises(RuntimeError, match="did not yield"), _stage(_never):
        pass


async def test_a_hook_failing_to_begin_ends_those_begun_and_the_body_does_not_run() -> None:
    EVENTS.clear()
    with (
        pytest.raises(LookupError, match="setup"),
        _stage(_plain("outer"), _failing_setup, _plain("never")),
    ):
        EVENTS.append("body")
    assert EVENTS == ["outer", "outer done"]
