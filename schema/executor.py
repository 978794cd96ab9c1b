"""graphql-core's executor, with a shorter path for the commonest field there is.

Most fields of a response are scalars or enums read straight off an object that a loader
already produced (`Contact.name`, `Attribute.value`, …). graphql-core runs each of them
through the general machinery — resolve info, argument coercion, awaitable checks,
completion — which costs more than everything else a large response needs. A field
whose resolver is Strawberry's default (an attribute read), that takes no arguments and
whose type is a scalar or an enum is answered here with the same two steps that machinery
ends in: read the attribute, coerce the value for output. Anything unusual — a null, a
value the type refuses, middleware — takes graphql-core's own path, so errors and their
locations are exactly as without this.
"""

from __future__ import annotations

from types import CoroutineType
from typing import Any, ClassVar

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    OperationType,
    Undefined,
    is_leaf_type,
)
from graphql.execution.middleware import MiddlewareManager
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.levels import LevelExecution, basic_attribute, is_plain, replay

_MISSING = object()  # an attribute the object does not have

# (attribute to read, type to coerce the value with, whether null is an error), or None
# when the field needs the general path.
Plan = tuple[str, GraphQLLeafType, bool] | None


def _plan(parent_type: GraphQLObjectType, field_name: str) -> Plan:
    field = parent_type.fields.get(field_name)
    if field is None or field.args:
        return None
    # A basic field (no resolver, permission classes or field extensions) read with
    # getattr: reading the attribute is all Strawberry would do.
    python_name = basic_attribute(parent_type, field_name, field)
    non_null = isinstance(field.type, GraphQLNonNull)
    output = field.type.of_type if non_null else field.type
    if python_name is None or not is_leaf_type(output):
        return None
    return python_name, output, non_null


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self._execute_operation(serially)
        if self.is_awaitable(result):
            return self._released_after(result)
        self._release()
        return result

    async def _released_after(self, result: Any) -> Any:
        try:
            return await result
        finally:
            self._release()

    def _release(self) -> None:
        """Once the operation is executed: breaks the reference cycle graphql-core's
        executor makes with its own bound methods (`async_helpers`, which every resolve
        info carries). Through it, a request's context, loaders and results were
        garbage only the cyclic collector could free, some 600 objects a queue page,
        which set off a collection every dozen pages (1.4 ms each, a full one 13 to 21
        ms): with it broken, reference counting frees them when the request ends."""
        self.__dict__.pop("async_helpers", None)

    def _execute_operation(self, serially: bool | None) -> Any:
        # Queries run level by level (schema/levels.py) when nothing observes single
        # fields: no middleware, abort signal or hooks. Mutations run their root fields
        # one after another, as graphql-core does.
        if (
            serially is None
            and self.operation.operation == OperationType.QUERY
            and self._no_middleware()
            and self.abort_signal is None
            and self.hooks is None
        ):
            return self._execute_by_levels()
        return super().execute_operation(serially)

    async def _execute_by_levels(self) -> Any:
        root_type = self.schema.query_type
        assert root_type is not None  # validation refuses a query otherwise
        levels = LevelExecution(self)
        try:
            data = await levels.run(root_type)
        except Exception:  # Unsupported, and anything unforeseen: graphql-core answers
            pass  # not run again in here: its errors would keep this attempt's as context
        else:
            levels.close()
            return self.build_response(data)
        # Executed again, the graphql-core way, to report the errors exactly; what the
        # resolvers already gave is replayed to it, not asked for again.
        recorded = levels.recorded
        levels.close()
        if recorded:
            self.middleware_manager = MiddlewareManager(replay(recorded))
        try:
            result = super().execute_operation()
            return await result if self.is_awaitable(result) else result
        finally:
            # What graphql-core did not ask for again (an error ended the list it was in)
            # was never started: it is closed, not left to warn.
            for ok, value in recorded.values():
                if ok and isinstance(value, CoroutineType):
                    value.close()

    # Plans depend on the schema alone, which is built once per process.
    _plans: ClassVar[dict[tuple[GraphQLObjectType, str], Plan]] = {}

    def _plan_of(self, parent_type: GraphQLObjectType, field_name: str) -> Plan:
        key = (parent_type, field_name)
        if key not in self._plans:
            self._plans[key] = _plan(parent_type, field_name)
        return self._plans[key]

    def _unusual(self, value: Any) -> bool:
        """For the general path: an attribute missing, an error to locate, a value to
        await."""
        return value is _MISSING or not is_plain(value, self.is_awaitable)

    def _no_middleware(self) -> bool:
        # Strawberry passes a manager on every request; only one with middleware matters.
        manager = self.middleware_manager
        return manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # An object whose selected fields are all plain scalars or enums (an attribute, a
        # validation, a page's info) is completed in one loop.
        if self._no_middleware():
            results: dict[str, Any] = {}
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                name = node.name.value
                if name == "__typename" and not node.arguments:
                    results[response_name] = parent_type.name
                    continue
                plan = None if node.arguments else self._plan_of(parent_type, name)
                if plan is None:
                    break
                attribute, leaf, non_null = plan
                value = getattr(source_value, attribute, _MISSING)
                if value is None or value is Undefined:
                    if non_null:
                        break
                    results[response_name] = None
                    continue
                if self._unusual(value):
                    break
                try:
                    coerced = leaf.coerce_output_value(value)
                except Exception:  # the general path reports it, located
                    break
                if coerced is None or coerced is Undefined:
                    break
                results[response_name] = coerced
            else:
                return results
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if not node.arguments and self._no_middleware():
            plan = self._plan_of(parent_type, node.name.value)
            if plan is not None:
                attribute, leaf, _ = plan
                value = getattr(source, attribute, _MISSING)
                if value is not None and value is not Undefined and not self._unusual(value):
                    try:
                        coerced = leaf.coerce_output_value(value)
                    except Exception:  # the general path reports it, located
                        coerced = None
                    if coerced is not None and coerced is not Undefined:
                        return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
