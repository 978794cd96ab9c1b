"""Schema extension hooks, run without Strawberry's inspection of every extension at every
stage of every request.

For each of a request's four stages (operation, parsing, validation, execution)
Strawberry builds a context manager that looks every extension's class over for the
stage's hook, wraps a generator hook with contextlib and enters it through an exit
stack: some 30 µs a request for this schema's one extension, more than its hooks take.
Here how an extension class's hook is run is decided once per class and stage, and a
stage whose hooks are all generator functions steps them itself, with contextlib's
semantics: each resumes after its `yield` when the stage ends, or has the stage's
exception thrown in, which it may let through, replace or suppress; hooks end in the
reverse of the order they began. A stage with any other kind of hook (an async
generator, a function) goes through Strawberry's own context manager.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

Hook = Callable[[SchemaExtension], Generator[None, None, None]]

# A hook that is neither absent nor a generator function.
_OTHER: Any = object()
_hooks: dict[tuple[type[SchemaExtension], str], Hook | None] = {}


def _hook(cls: type[SchemaExtension], name: str) -> Hook | None:
    """The class's generator hook for the stage, None if it has none, else _OTHER."""
    key = (cls, name)
    if key not in _hooks:
        function = getattr(cls, name)
        if function is getattr(SchemaExtension, name):
            _hooks[key] = None
        elif inspect.isgeneratorfunction(function):
            _hooks[key] = function
        else:
            _hooks[key] = _OTHER
    return _hooks[key]


class HookRunner(SchemaExtensionsRunner):
    """Strawberry's runner, with the stages above."""

    def operation(self) -> Any:
        return _stage(self.extensions, "on_operation", OperationContextManager)

    def parsing(self) -> Any:
        return _stage(self.extensions, "on_parse", ParsingContextManager)

    def validation(self) -> Any:
        return _stage(self.extensions, "on_validate", ValidationContextManager)

    def executing(self) -> Any:
        return _stage(self.extensions, "on_execute", ExecutingContextManager)


def _stage(
    extensions: list[SchemaExtension],
    name: str,
    strawberry_stage: Callable[[list[SchemaExtension]], ExtensionContextManagerBase],
) -> Stage | ExtensionContextManagerBase:
    hooks: list[tuple[Hook, SchemaExtension]] = []
    for extension in extensions:
        hook = _hook(type(extension), name)
        if hook is _OTHER:
            return strawberry_stage(extensions)
        if hook is not None:
            hooks.append((hook, extension))
    return Stage(hooks)


class Stage:
    """The generator hooks of one stage, as a context manager (sync or async)."""

    __slots__ = ("_hooks", "_running")

    def __init__(self, hooks: list[tuple[Hook, SchemaExtension]]) -> None:
        self._hooks = hooks
        self._running: list[Generator[None, None, None]] = []

    def __enter__(self) -> None:
        for hook, extension in self._hooks:
            generator = hook(extension)
            try:
                next(generator)
            except StopIteration:
                error = RuntimeError(f"{hook.__qualname__} did not yield")
                _finish(self._running, error)
                raise error from None
            except BaseException as error:
                # The hooks begun end with the error, which the stage raises whatever
                # they make of it: its body must not run without every hook.
                _finish(self._running, error)
                raise
            self._running.append(generator)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return _finish(self._running, exc)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return _finish(self._running, exc)


def _finish(running: list[Generator[None, None, None]], exc: BaseException | None) -> bool:
    """Ends the running hooks, last first, with `exc` propagating (None: none). True if
    they suppressed it; raises whatever one of them raised instead."""
    pending = exc
    while running:
        generator = running.pop()
        try:
            if pending is None:
                next(generator)
            else:
                generator.throw(pending)
        except StopIteration:
            pending = None  # ended: a thrown exception is then suppressed
            continue
        except BaseException as raised:
            pending = raised  # let through, or replaced
            continue
        pending = RuntimeError("an extension hook yielded more than once")
    if pending is None:
        return exc is not None
    if pending is exc:
        return False
    raise pending
