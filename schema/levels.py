"""Executing a query level by level: every object at one depth of the response together.

graphql-core completes a response one object at a time: for each object of a list it
builds a path, resolve info and arguments for every field, checks each result for an
awaitable, and gathers the awaitables of that object alone. A queue page of fifty
conversations, their contacts and twelve attributes each is some 750 objects and 3,600
fields, and that bookkeeping costs several times what the resolvers themselves do.

Here the objects of one type and selection at one depth form a batch. For each field of
the batch the arguments are coerced once (for each call where they hold list or object
literals, which a resolver may change), each object's resolver is called, and the
awaitables of every field of the batch are awaited together, so that the loaders they
call see all of their keys in the same tick, as they would under graphql-core. Then the
values are completed into the response: leaves serialised in place, and objects gathered
into the batches of the next depth, which run concurrently for the same reason.

The resolvers, their `info`, arguments, `is_type_of` and `resolve_type` are graphql-core's
and Strawberry's own; what changes is the order of the work, not what it does. (A
Strawberry resolver is called without the wrapper Strawberry puts around it where that
wrapper has nothing to do: see `_direct`.) What this
does not cover it does not imitate: a resolver that raises, a null in a non-null
position, a value a leaf type refuses, an awaitable where a plain value was expected,
introspection's meta fields. On any of those `Unsupported` is raised, and the caller
executes the whole operation again with graphql-core, which reports the error exactly,
located, and with the partial data the specification asks for. Only queries run here.
The second attempt does not call again a resolver the first one called: what it gave, or
the exception it raised, is replayed (see `replay`), so no work is done twice and a
failed statement does not fail the statements of other fields a second time.

Two differences remain, by design. A resolver runs after every resolver of the depth
above has finished, so a context variable one resolver sets is not seen by the
resolvers of its children, as it may be under graphql-core. And the awaitables of a
batch are awaited in the request's task, not a task each (schema/together.py): a
context variable one sets is seen by those resumed after it, and a resolver must not
cancel its task to time out. This schema's resolvers share nothing that way (the
request's state is in `info.context`) and give their deadlines to asyncpg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from itertools import repeat
from types import GeneratorType, NoneType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    Undefined,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, is_iterable
from graphql.type import GraphQLBoolean, GraphQLID, GraphQLInt, GraphQLString
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import StrawberryArgument, convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional, StrawberryType
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from strawberry.types.unset import UNSET

from schema.together import settle

if TYPE_CHECKING:
    from graphql.execution.collect_fields import FieldDetails

    from schema.executor import ExecutionContext

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Unsupported(Exception):
    """This operation, or this response, is for graphql-core's own execution."""


Serialize = Callable[[Any], Any]
Info = GraphQLResolveInfo[Any] | None
Following = dict[tuple[GraphQLObjectType, int], "_Batch"]
# (value, its path or None where no path is needed, the field's info, the next depth)
Complete = Callable[[Any, Path | None, Info, Following], Any]


def _coerce(leaf: GraphQLLeafType) -> Serialize:
    def coerce(value: Any) -> Any:
        try:
            coerced = leaf.coerce_output_value(value)
        except Exception as error:  # graphql-core reports it, located
            raise Unsupported from error
        if coerced is None or coerced is Undefined:
            raise Unsupported
        return coerced

    return coerce


def serializer(leaf: GraphQLLeafType) -> Serialize:
    """The output coercion of a leaf type, with the commonest values answered directly.

    A str for String or ID, a bool for Boolean, an int in range for Int and a member of a
    Strawberry enum are what resolvers return almost always; they come out unchanged or,
    for an enum, as the member's GraphQL name, which is what the types' own coercion
    gives. Anything else goes to that coercion."""
    coerce = _coerce(leaf)
    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda value: value if type(value) is str else coerce(value)
    if leaf is GraphQLBoolean:
        return lambda value: value if type(value) is bool else coerce(value)
    if leaf is GraphQLInt:
        return lambda value: (
            value if type(value) is int and _INT_MIN <= value <= _INT_MAX else coerce(value)
        )
    members = enum_names(leaf)
    if members is not None:

        def enum_name(value: Any) -> Any:
            name = members.get(id(value))
            return coerce(value) if name is None else name

        return enum_name
    return coerce


def enum_names(leaf: GraphQLLeafType) -> dict[int, str] | None:
    """For an enum type of a Strawberry enum: the GraphQL name of each member, by the
    member's id(); else None. Strawberry's enum coercion gives the name of the first
    GraphQL value equal to the member's. (A member hashes through Enum.__hash__, in
    Python; its id in C. Members live as long as their class, so an id found here is
    the member's.)"""
    wrapped = getattr(leaf, "wrapped_cls", None)
    if not (
        isinstance(leaf, GraphQLEnumType)
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        return None
    names: dict[int, str] = {}
    for member in wrapped:
        for name, value in leaf.values.items():
            if value.value == member.value:
                names.setdefault(id(member), name)
    return names


# The plans below depend on the schema alone, which is built once per process.
_serializers: dict[GraphQLLeafType, Serialize] = {}
_attributes: dict[tuple[GraphQLObjectType, str], str | None] = {}


def _serializer(leaf: GraphQLLeafType) -> Serialize:
    found = _serializers.get(leaf)
    if found is None:
        found = _serializers[leaf] = serializer(leaf)
    return found


_members: dict[GraphQLLeafType, dict[int, str] | None] = {}


def _enum_members(leaf: GraphQLLeafType) -> dict[int, str] | None:
    if leaf not in _members:
        _members[leaf] = enum_names(leaf)
    return _members[leaf]


def basic_attribute(parent_type: GraphQLObjectType, name: str, field: GraphQLField) -> str | None:
    """The attribute a field reads, when its resolver does nothing else (Strawberry's
    basic field: no resolver, permission classes or extensions)."""
    key = (parent_type, name)
    if key not in _attributes:
        found = None
        if getattr(field.resolve, "_is_default", False):
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            # Read with getattr: unless the schema configured another default resolver.
            if (
                getattr(definition, "is_basic_field", False)
                and getattr(definition, "default_resolver", None) is getattr
            ):
                found = getattr(definition, "python_name", None)
        _attributes[key] = found
    return _attributes[key]


_directs: dict[tuple[GraphQLObjectType, str], Callable[..., Any] | None] = {}


def _direct(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str, field: GraphQLField
) -> Callable[..., Any] | None:
    """The field's Strawberry resolver, called as Strawberry calls it, without the layers
    that have nothing to do for it; None where one of them would (field extensions and
    permission classes, exception handlers) or where the field is not Strawberry's.

    Strawberry wraps every resolver in a chain of closures, meant for field extensions,
    and an async one in two coroutines more: some 3 microseconds a call, more than most
    of this schema's resolvers take. Here the call is what remains of that chain: the
    same Info, the same argument conversion, the same reserved parameters (self, root,
    parent, info), and the resolver's result as it is (an awaitable is awaited by the
    caller, as Strawberry's coroutine would have awaited it). How each argument is
    converted is decided once per field (see _arguments)."""
    key = (parent_type, name)
    if key in _directs:
        return _directs[key]
    found = None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    owner = (schema.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    converter = getattr(owner, "schema_converter", None)
    resolver = getattr(definition, "base_resolver", None)
    if (
        isinstance(definition, StrawberryField)
        and isinstance(resolver, StrawberryResolver)
        and callable(resolver.wrapped_func)
        and not definition.extensions
        and not definition.is_subscription
        and isinstance(converter, GraphQLCoreConverter)
        # Exception handlers turn a resolver's exception into a value: then Strawberry's
        # own wrapper is called. (An unknown Strawberry without the attribute: likewise.)
        and getattr(converter, "_exception_handler_specs", True) == ()
    ):
        found = _strawberry_call(definition, resolver, converter)
    _directs[key] = found
    return found


# How an argument's value is converted for the resolver (see _arguments).
_AS_IS, _UNLESS_NULL, _CONVERTED = 0, 1, 2


def _arguments(
    arguments: list[StrawberryArgument], converter: GraphQLCoreConverter
) -> list[tuple[str, str, StrawberryArgument, int]]:
    """Each argument's GraphQL name, Python name, and how Strawberry's convert_argument
    treats its value, decided once per field instead of for every call: a scalar or an
    enum (graphql-core has already parsed it) is passed as it is; null or unset for an
    optional argument is passed as it is; anything else is converted (input objects,
    lists, global ids, `Maybe`)."""
    config, scalars = converter.config, converter.scalar_registry
    found = []
    for argument in arguments:
        assert argument.python_name
        type_ = argument.type
        how = _CONVERTED
        if not isinstance(type_, StrawberryMaybe):
            if isinstance(type_, StrawberryOptional):
                how = _UNLESS_NULL
                type_ = type_.of_type
            if type_ is not GlobalID and (
                isinstance(type_, StrawberryEnumDefinition)
                or has_enum_definition(type_)
                or (not isinstance(type_, StrawberryType) and is_scalar(type_, scalars))
            ):
                how = _AS_IS
        name = config.name_converter.from_argument(argument)
        found.append((name, argument.python_name, argument, how))
    return found


def _strawberry_call(
    definition: StrawberryField, resolver: StrawberryResolver[Any], converter: GraphQLCoreConverter
) -> Callable[..., Any]:
    call = cast(Callable[..., Any], resolver.wrapped_func)  # callable: see _direct
    arguments = _arguments(definition.arguments, converter)
    config, scalars = converter.config, converter.scalar_registry
    info_class = config.info_class
    with_self = resolver.self_parameter is not None
    # Parameters given the source by name (root, parent), and the one given the Info.
    given_source = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p]
    info_parameter = resolver.info_parameter
    given_info = None if info_parameter is None else info_parameter.name

    def strawberry_call(source: Any, info: GraphQLResolveInfo[Any], **raw: Any) -> Any:
        strawberry_info = info_class(_raw_info=info, _field=definition)
        kwargs = {}
        for name, python_name, argument, how in arguments:
            if name in raw:
                value = raw[name]
                if how == _AS_IS or (how == _UNLESS_NULL and (value is None or value is UNSET)):
                    kwargs[python_name] = value
                else:
                    kwargs[python_name] = convert_argument(
                        value, argument.type, scalars, config, strawberry_info, path=(name,)
                    )
        for parameter in given_source:
            kwargs[parameter] = source
        if given_info is not None:
            kwargs[given_info] = strawberry_info
        return call(source, **kwargs) if with_self else call(**kwargs)

    return strawberry_call


def _selected(
    object_type: GraphQLObjectType, field_set: dict[str, Any]
) -> Iterator[tuple[list[FieldDetails], GraphQLField | None, str | None]]:
    """The fields of a selection but __typename: each one's details, its field (None for
    introspection's) and the attribute it reads when it is a basic field (see
    basic_attribute)."""
    for details in field_set.values():
        name = details[0].node.name.value
        if name == "__typename":
            continue
        field = object_type.fields.get(name)
        yield details, field, None if field is None else basic_attribute(object_type, name, field)


def _reads_leaves_only(object_type: GraphQLObjectType, field_set: dict[str, Any]) -> bool:
    """Whether every field of the selection is __typename or a basic field of a leaf
    type: what the same object always completes to the same value with (see _Batch)."""
    for _, field, attribute in _selected(object_type, field_set):
        if field is None or attribute is None:
            return False
        field_type = field.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        if not is_leaf_type(field_type):
            return False
    return True


class _Batch:
    """Objects of one type, all completed with one selection: their sources, the dicts
    their fields go into, and their paths.

    Where the selection reads nothing but attributes of leaf types (`by_identity`), an
    object that comes again, the same Python object, completes to the same dict: the
    dict is shared, not made and filled again. Most of a queue page's attributes are
    the contacts' shared unset ones (see schema/attributes.py)."""

    __slots__ = ("by_identity", "field_set", "object_type", "paths", "results", "sources")

    def __init__(
        self, object_type: GraphQLObjectType, field_set: dict[str, Any], *, leaves_only: bool
    ) -> None:
        self.object_type = object_type
        self.field_set = field_set
        self.sources: list[Any] = []
        self.results: list[dict[str, Any]] = []
        self.paths: list[Path | None] = []
        # The result of each source, by its id(); the batch keeps the sources alive.
        self.by_identity: dict[int, dict[str, Any]] | None = {} if leaves_only else None

    def add(self, source: Any, path: Path | None) -> dict[str, Any]:
        """Adds an object; its result, to be filled in when the batch runs."""
        by_identity = self.by_identity
        if by_identity is not None:
            found = by_identity.get(id(source))
            if found is not None:
                return found
        result: dict[str, Any] = {}
        self.sources.append(source)
        self.results.append(result)
        self.paths.append(path)
        if by_identity is not None:
            by_identity[id(source)] = result
        return result

    def add_all(self, sources: list[Any], path: Path | None) -> list[dict[str, Any]]:
        """Adds the objects of a list, each with the list's path (see completer: their
        own paths are not needed); their results."""
        by_identity = self.by_identity
        if by_identity is not None:  # as add() does for each
            listed = []
            for source in sources:
                result = by_identity.get(id(source))
                if result is None:
                    result = by_identity[id(source)] = {}
                    self.sources.append(source)
                    self.results.append(result)
                    self.paths.append(path)
                listed.append(result)
            return listed
        results: list[dict[str, Any]] = [{} for _ in sources]
        self.sources += sources
        self.results += results
        self.paths += repeat(path, len(sources))
        return results


class _Field:
    """One field of a batch: the value each object's resolver gave, and the info each
    was given (None where no resolver was called)."""

    __slots__ = ("details", "infos", "name", "return_type", "values")

    def __init__(
        self,
        name: str,
        return_type: GraphQLOutputType,
        details: list[FieldDetails],
        values: list[Any],
        infos: list[GraphQLResolveInfo[Any]],
    ) -> None:
        self.name = name
        self.return_type = return_type
        self.details = details
        self.values = values
        self.infos = infos


class LevelExecution:
    """One query operation's execution; `run` raises Unsupported where it would have to
    report an error."""

    def __init__(self, executor: ExecutionContext) -> None:
        self.executor = executor
        self.schema = executor.schema
        self.is_awaitable = executor.is_awaitable
        self.plan = Plan.of(executor)
        # What each resolver called gave, by path: its value (True) or its exception
        # (False), settled where it was awaited. See replay().
        self.recorded: dict[Path, tuple[bool, Any]] = {}

    def close(self) -> None:
        """Lets go of the request's objects now: a plan made for this request alone
        refers back to itself, and the cycle would wait for the collector."""
        if not self.plan.shared:
            self.plan.close()
        self.recorded = {}

    async def run(self, root_type: GraphQLObjectType) -> dict[str, Any]:
        root = _Batch(root_type, self.plan.root_fields(root_type), leaves_only=False)
        data = root.add(self.executor.root_value, None)
        await self._execute(root)
        return data

    async def _execute(self, batch: _Batch) -> None:
        object_type = batch.object_type
        sources, results = batch.sources, batch.results
        fields: list[_Field] = []
        for response_name, details in batch.field_set.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                for result in results:
                    result[response_name] = object_type.name
                continue
            field = object_type.fields.get(name)
            if field is None:  # __schema and __type
                raise Unsupported
            attribute = basic_attribute(object_type, name, field)
            if attribute is not None and self._leaves(
                field, attribute, response_name, sources, results
            ):
                continue
            # Keeps the response's keys in the selection's order; completed below.
            for result in results:
                result[response_name] = None
            if attribute is not None:
                values = [_read(source, attribute) for source in sources]
                infos = (
                    self._infos(batch, response_name, field, details)
                    if _needs_info(field.type)
                    else []
                )
                fields.append(_Field(response_name, field.type, details, values, infos))
                continue
            fields.append(self._resolve(batch, response_name, field, details))
        await self._settle(fields)
        following: Following = {}
        for field in fields:
            complete, paths = self.plan.completer(field.return_type, field.details)
            name = field.name
            if field.infos:
                for result, value, info in zip(results, field.values, field.infos, strict=True):
                    result[name] = complete(value, info.path, info, following)
            elif paths:
                type_name = object_type.name
                for result, value, path in zip(results, field.values, batch.paths, strict=True):
                    result[name] = complete(value, Path(path, name, type_name), None, following)
            else:
                for result, value in zip(results, field.values, strict=True):
                    result[name] = complete(value, None, None, following)
        if len(following) == 1:
            await self._execute(next(iter(following.values())))
        elif following:
            await _together([self._execute(child) for child in following.values()])

    def _leaves(
        self,
        field: GraphQLField,
        attribute: str,
        response_name: str,
        sources: list[Any],
        results: list[dict[str, Any]],
    ) -> bool:
        """Completes a plain scalar or enum field of every object in one loop; False for
        any other type."""
        return_type = field.type
        non_null = isinstance(return_type, GraphQLNonNull)
        leaf = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        if not is_leaf_type(leaf):
            return False
        serialize = _serializer(leaf)
        # Values of this Python type come out unchanged (see serializer).
        exact: type | None = str if leaf is GraphQLString or leaf is GraphQLID else None
        if leaf is GraphQLBoolean:
            exact = bool
        members = _enum_members(leaf)
        try:
            if members is not None:
                # An enum: its members' names directly (a queue page has 750 of them).
                for source, result in zip(sources, results, strict=True):
                    value = getattr(source, attribute)
                    name = members.get(id(value))
                    if name is None:
                        result[response_name] = self._leaf(value, non_null, serialize)
                    else:
                        result[response_name] = name
                return True
            for source, result in zip(sources, results, strict=True):
                value = getattr(source, attribute)
                if type(value) is exact:
                    result[response_name] = value
                else:
                    result[response_name] = self._leaf(value, non_null, serialize)
        except AttributeError as error:
            raise Unsupported from error
        return True

    def _leaf(self, value: Any, non_null: bool, serialize: Serialize) -> Any:
        """A leaf value as it completes, where it is none of the commonest cases."""
        if value is None or value is Undefined:
            if non_null:
                raise Unsupported
            return None
        if not is_plain(value, self.is_awaitable):
            raise Unsupported  # an error to locate, a value to await
        return serialize(value)

    def _resolve(
        self, batch: _Batch, response_name: str, field: GraphQLField, details: list[FieldDetails]
    ) -> _Field:
        executor = self.executor
        first = details[0]
        node = first.node
        try:
            args = (
                get_argument_values(
                    field,
                    node,
                    executor.variable_values,
                    first.fragment_variable_values,
                    executor.hide_suggestions,
                )
                if field.args or node.arguments
                else {}
            )
        except Exception as error:
            raise Unsupported from error
        resolve = (
            _direct(self.schema, batch.object_type, node.name.value, field)
            or field.resolve
            or executor.field_resolver
        )
        infos = self._infos(batch, response_name, field, details)
        # Literal lists and objects are built anew for every call, as graphql-core does:
        # a resolver may change what it is given.
        fresh = any(
            isinstance(a.value, ListValueNode | ObjectValueNode) for a in node.arguments or ()
        )
        recorded = self.recorded
        values: list[Any] = []
        for source, info in zip(batch.sources, infos, strict=True):
            try:
                if fresh:
                    args = get_argument_values(
                        field,
                        node,
                        executor.variable_values,
                        first.fragment_variable_values,
                        executor.hide_suggestions,
                    )
                value = resolve(source, info, **args)
            except Exception as error:
                recorded[info.path] = (False, error)
                raise Unsupported from error
            recorded[info.path] = (True, value)
            values.append(value)
        return _Field(response_name, field.type, details, values, infos)

    def _infos(
        self, batch: _Batch, response_name: str, field: GraphQLField, details: list[FieldDetails]
    ) -> list[GraphQLResolveInfo[Any]]:
        """The resolve info of the field for each object of the batch."""
        build = self.executor.build_resolve_info
        object_type = batch.object_type
        nodes = [field_details.node for field_details in details]
        return [
            build(field, nodes, object_type, Path(path, response_name, object_type.name))
            for path in batch.paths
        ]

    async def _settle(self, fields: list[_Field]) -> None:
        """Awaits every awaitable value of the batch's fields, together."""
        waiting: list[tuple[_Field, int]] = []
        awaitables = []
        is_awaitable = self.is_awaitable
        for field in fields:
            for index, value in enumerate(field.values):
                if is_awaitable(value):
                    if not field.infos:
                        # A plain field holding an awaitable: graphql-core awaits it (the
                        # awaitables of resolvers called so far are replayed to it).
                        raise Unsupported
                    waiting.append((field, index))
                    awaitables.append(value)
        if not awaitables:
            return
        if len(awaitables) == 1:
            try:
                settled = [await awaitables[0]]
            except Exception as error:
                settled = [error]
        else:
            settled = await settle(awaitables)
        failed = None
        recorded = self.recorded
        for (field, index), value in zip(waiting, settled, strict=True):
            path = field.infos[index].path
            if isinstance(value, BaseException):
                if not isinstance(value, Exception):
                    raise value  # cancelled: the request is over
                recorded[path] = (False, value)
                failed = value
            else:
                recorded[path] = (True, value)
                field.values[index] = value
        if failed is not None:
            raise Unsupported from failed


class Plan:
    """What executing one operation takes that does not depend on the values of a
    request: the fields each selection collects and how each field's values are
    completed. graphql-core works this out anew for every request; a query's plan is
    made once and shared by every request of the same document (its parse is cached,
    see schema/limits.py), unless directives such as @skip and @include, whose
    arguments may be variables, make it depend on the request."""

    def __init__(self, executor: ExecutionContext, *, shared: bool) -> None:
        self.shared = shared
        self.schema = executor.schema
        self.fragments = executor.fragments
        self.operation = executor.operation
        # A shared plan's selections use no directive, the one use of variables in them:
        # it keeps no request's values.
        self.variable_values = _NO_VARIABLES if shared else executor.variable_values
        self.hide_suggestions = executor.hide_suggestions
        self.is_awaitable = executor.is_awaitable
        self.type_resolver = executor.type_resolver
        self._roots: dict[GraphQLObjectType, dict[str, Any]] = {}
        self._subfields: dict[tuple[GraphQLObjectType, int], dict[str, Any]] = {}
        self._completers: dict[tuple[GraphQLOutputType, int], tuple[Complete, bool]] = {}
        self._paths_needed: dict[tuple[GraphQLObjectType, int], bool] = {}
        self._leaves_only: dict[tuple[GraphQLObjectType, int], bool] = {}

    @classmethod
    def of(cls, executor: ExecutionContext) -> Plan:
        """The plan of the executor's operation: the shared one where it can be."""
        operation = executor.operation
        if not _plain_selections(operation, executor.fragments):
            return cls(executor, shared=False)
        key = (id(operation), id(executor.schema), executor.is_awaitable, executor.type_resolver)
        found = _PLANS.get(key)
        # The plan holds the operation and the schema, so their ids are not reused.
        if found is None or found.operation is not operation or found.schema is not executor.schema:
            found = _keep(_PLANS, key, cls(executor, shared=True))
        return found

    def close(self) -> None:
        self._roots = {}
        self._subfields = {}
        self._completers = {}
        self._paths_needed = {}
        self._leaves_only = {}

    def root_fields(self, root_type: GraphQLObjectType) -> dict[str, Any]:
        """The operation's fields; Unsupported for @defer."""
        found = self._roots.get(root_type)
        if found is None:
            collected = collect_fields(
                self.schema,
                self.fragments,
                self.variable_values,
                root_type,
                self.operation,
                self.hide_suggestions,
            )
            if collected.new_defer_usages:
                raise Unsupported
            found = self._roots[root_type] = collected.grouped_field_set
        return found

    def subfields(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> dict[str, Any]:
        """The fields the selections of `details` collect on `object_type`. (Keyed by the
        identity of `details`, which the plan holds: every one comes from its fields.)"""
        key = (object_type, id(details))
        found = self._subfields.get(key)
        if found is None:
            collected = collect_subfields(
                self.schema,
                self.fragments,
                self.variable_values,
                self.operation,
                object_type,
                details,
                self.hide_suggestions,
            )
            if collected.new_defer_usages:
                raise Unsupported
            found = self._subfields[key] = collected.grouped_field_set
        return found

    def completer(
        self, return_type: GraphQLOutputType, details: list[FieldDetails]
    ) -> tuple[Complete, bool]:
        """The completion of values of `return_type` for the field `details`, built once
        per plan: graphql-core's complete_value, with the type's structure decided in
        advance instead of for every value. The flag tells whether it needs the values'
        paths (see _needs_paths); without it, it is given None."""
        key = (return_type, id(details))
        found = self._completers.get(key)
        if found is None:
            found = self._completers[key] = self._build_completer(return_type, details)
        return found

    def _needs_paths(self, object_type: GraphQLObjectType, details: list[FieldDetails]) -> bool:
        """Whether completing objects of this type with this selection hands a path to
        anything: a resolver's info, is_type_of or resolve_type, at any depth below. The
        paths of a page's attributes, say, are never read, and not made."""
        key = (object_type, id(details))
        found = self._paths_needed.get(key)
        if found is not None:
            return found
        found = False
        for sub_details, field, attribute in _selected(
            object_type, self.subfields(object_type, details)
        ):
            if field is None or attribute is None:
                found = True  # a resolver's info, or introspection
            elif _needs_info(field.type):
                found = True
            else:
                named = get_named_type(field.type)
                found = isinstance(named, GraphQLObjectType) and self._needs_paths(
                    named, sub_details
                )
            if found:
                break
        self._paths_needed[key] = found
        return found

    def _build_completer(
        self, return_type: GraphQLOutputType, details: list[FieldDetails], non_null: bool = False
    ) -> tuple[Complete, bool]:
        """See completer. With `non_null`, the completer of the non-null type around
        `return_type` (a null is then for graphql-core to report)."""
        is_awaitable = self.is_awaitable
        plain = _PLAIN

        if isinstance(return_type, GraphQLNonNull):
            if not isinstance(return_type.of_type, GraphQLList):
                # An object's or a leaf's completer checks for null itself: one call less
                # for every value.
                return self._build_completer(return_type.of_type, details, non_null=True)
            inner, inner_paths = self._build_completer(return_type.of_type, details)

            def non_null_list(
                value: Any, path: Path | None, info: Info, following: Following
            ) -> Any:
                if value is None or value is Undefined:
                    raise Unsupported
                return inner(value, path, info, following)

            return non_null_list, inner_paths
        if isinstance(return_type, GraphQLList):
            item, item_paths = self._build_completer(return_type.of_type, details)
            # The batch key of the items when they are objects whose type has no
            # is_type_of, and which need no path: what object_of does for each, once.
            element_type = return_type.of_type
            if isinstance(element_type, GraphQLNonNull):
                element_type = element_type.of_type
            objects = (
                (element_type, id(details))
                if isinstance(element_type, GraphQLObjectType)
                and element_type.is_type_of is None
                and not item_paths
                else None
            )

            def list_of(value: Any, path: Path | None, info: Info, following: Following) -> Any:
                if value is None or value is Undefined:
                    if non_null:
                        raise Unsupported
                    return None
                if type(value) is not list and (
                    not is_plain(value, is_awaitable) or not is_iterable(value)
                ):
                    raise Unsupported
                if not item_paths:
                    if objects is not None and type(value) is list:
                        kinds = set(map(type, value))
                        if kinds <= plain and not kinds & _MISSING:
                            # Objects of a type without is_type_of: into their batch at once.
                            batch = following.get(objects)
                            if batch is None:
                                batch = following[objects] = self._batch(objects[0], details)
                            return batch.add_all(value, path)
                    return [item(element, path, info, following) for element in value]
                return [
                    item(element, Path(path, index, None), info, following)
                    for index, element in enumerate(value)
                ]

            return list_of, item_paths
        if is_leaf_type(return_type):
            serialize = _serializer(return_type)

            def leaf(value: Any, path: Path | None, info: Info, following: Following) -> Any:
                if value is None or value is Undefined:
                    if non_null:
                        raise Unsupported
                    return None
                if type(value) not in plain and not is_plain(value, is_awaitable):
                    raise Unsupported
                return serialize(value)

            return leaf, False
        if is_abstract_type(return_type):
            abstract_type = return_type

            def abstract_of(value: Any, path: Path | None, info: Info, following: Following) -> Any:
                if value is None or value is Undefined:
                    if non_null:
                        raise Unsupported
                    return None
                if info is None:  # see _needs_info
                    raise Unsupported
                if type(value) not in plain and not is_plain(value, is_awaitable):
                    raise Unsupported
                runtime_type = self._runtime_type(abstract_type, value, info)
                key = (runtime_type, id(details))
                return self._add(runtime_type, details, key, value, path, info, following)

            return abstract_of, True
        object_type = cast(GraphQLObjectType, return_type)
        key = (object_type, id(details))
        is_type_of = object_type.is_type_of
        add = self._add

        def object_of(value: Any, path: Path | None, info: Info, following: Following) -> Any:
            if value is None or value is Undefined:
                if non_null:
                    raise Unsupported
                return None
            if type(value) not in plain and not is_plain(value, is_awaitable):
                raise Unsupported
            if is_type_of is None:  # the commonest case, in one call
                batch = following.get(key)
                if batch is None:
                    batch = following[key] = self._batch(object_type, details)
                return batch.add(value, path)
            return add(object_type, details, key, value, path, info, following)

        return object_of, self._needs_paths(object_type, details)

    def _add(
        self,
        object_type: GraphQLObjectType,
        details: list[FieldDetails],
        key: tuple[GraphQLObjectType, int],
        value: Any,
        path: Path | None,
        info: Info,
        following: Following,
    ) -> dict[str, Any]:
        """Puts the object into its batch of the next depth, once its type's is_type_of
        agrees; its result, to be filled in there."""
        if object_type.is_type_of is not None:
            if info is None:  # see _needs_info
                raise Unsupported
            matches = object_type.is_type_of(value, info)
            if self.is_awaitable(matches) or not matches:
                raise Unsupported
        batch = following.get(key)
        if batch is None:
            batch = following[key] = self._batch(object_type, details)
        return batch.add(value, path)

    def _batch(self, object_type: GraphQLObjectType, details: list[FieldDetails]) -> _Batch:
        field_set = self.subfields(object_type, details)
        key = (object_type, id(details))
        leaves_only = self._leaves_only.get(key)
        if leaves_only is None:
            leaves_only = self._leaves_only[key] = _reads_leaves_only(object_type, field_set)
        return _Batch(object_type, field_set, leaves_only=leaves_only)

    def _runtime_type(
        self, abstract_type: GraphQLAbstractType, value: Any, info: GraphQLResolveInfo[Any]
    ) -> GraphQLObjectType:
        resolve_type = abstract_type.resolve_type or self.type_resolver
        runtime = resolve_type(value, info, abstract_type)
        if self.is_awaitable(runtime) or not isinstance(runtime, str):
            raise Unsupported
        runtime_type = self.schema.get_type(runtime)
        if not isinstance(runtime_type, GraphQLObjectType) or not self.schema.is_sub_type(
            abstract_type, runtime_type
        ):
            raise Unsupported
        return runtime_type


_NO_VARIABLES = VariableValues(sources={}, coerced={})

# Shared plans, oldest first; as many as the parse cache keeps documents.
PLANS_KEPT = 256
_PLANS: dict[tuple[int, int, Any, Any], Plan] = {}


def _plain_selections(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    """Whether the operation and its fragments use no directive: what they collect then
    depends on the document alone, not on the request's variables."""
    found = _PLAIN_OPERATIONS.get(id(operation))
    if found is not None and found[0] is operation:
        return found[1]
    plain = not any(
        getattr(node, "directives", None)
        for node in _nodes([operation, *(fragment.definition for fragment in fragments.values())])
    )
    return _keep(_PLAIN_OPERATIONS, id(operation), (operation, plain))[1]


K = TypeVar("K")
V = TypeVar("V")


def _keep(kept: dict[K, V], key: K, value: V) -> V:
    """Stores the value, dropping the oldest entries past PLANS_KEPT."""
    kept[key] = value
    while len(kept) > PLANS_KEPT:
        kept.pop(next(iter(kept)))
    return value


_PLAIN_OPERATIONS: dict[int, tuple[OperationDefinitionNode, bool]] = {}


def _nodes(roots: list[Any]) -> Iterator[Any]:
    """Every node of the selection sets under `roots`."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


# What stands for a missing value: a null or graphql-core's Undefined.
_MISSING = frozenset((NoneType, type(Undefined)))

# Classes whose instances were seen to be plain values, neither an error nor awaitable.
# Asking costs a microsecond for an enum member or a datetime (hasattr(value,
# "__await__") raises inside), and a queue page has hundreds of them.
_PLAIN: set[type] = set()


def is_plain(value: Any, is_awaitable: Callable[[Any], bool]) -> bool:
    """Whether the value is neither an error nor awaitable: what may be completed as it
    is. Its class is remembered when that holds for every instance (a generator is
    awaitable or not by its flags)."""
    cls = type(value)
    if cls in _PLAIN:
        return True
    if isinstance(value, Exception) or is_awaitable(value):
        return False
    if cls is not GeneratorType:
        _PLAIN.add(cls)
    return True


def _needs_info(return_type: GraphQLOutputType) -> bool:
    """Whether completing values of this type calls resolve_type or is_type_of."""
    named = get_named_type(return_type)
    return is_abstract_type(named) or getattr(named, "is_type_of", None) is not None


def _read(source: Any, attribute: str) -> Any:
    try:
        return getattr(source, attribute)
    except AttributeError as error:
        raise Unsupported from error


async def _together(awaitables: list[Any]) -> list[Any]:
    """Awaits them concurrently; if any fails, only once all have finished (no work is
    left running into graphql-core's second attempt)."""
    settled = await settle(awaitables)
    for value in settled:
        if isinstance(value, BaseException):
            if not isinstance(value, Exception):
                raise value
            raise Unsupported from value
    return settled


def replay(recorded: dict[Path, tuple[bool, Any]]) -> Callable[..., Any]:
    """A graphql-core middleware for the second attempt: a resolver the first attempt
    called is not called again; what it gave (a value, an awaitable not yet awaited, or
    the exception it raised) is given again. So the answer is the one graphql-core alone
    would give (a statement that failed does not take the ones after it down with it a
    second time), and no resolver's work is done twice."""

    def replayed(
        next_: Callable[..., Any], source: Any, info: GraphQLResolveInfo[Any], **args: Any
    ) -> Any:
        outcome = recorded.pop(info.path, None)
        if outcome is None:
            return next_(source, info, **args)
        ok, value = outcome
        if ok:
            return value
        raise value

    return replayed
