"""What an operation asks for, measured on its parsed document before validation: the
fields and aliases written, the depth, and the cost.

The cost is the number of objects the lists of an operation may return, as GitHub and
Shopify count it: a connection counts its page size (`first` or `last`, 20 when neither
is given) times the sizes of the lists around it, so `first: 100` inside `first: 100`
costs 100 + 10,000; `nodes(ids:)` counts its ids; any other list of objects counts as
LIST_ESTIMATE items. Scalars and single objects cost nothing: the limits on fields,
depth and aliases bound them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

from resolvers.nodes import MAX_NODES
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE

LIST_ESTIMATE = 10  # items assumed for a list of objects that has no page arguments


@dataclass(frozen=True, slots=True)
class Measure:
    """What an operation asks for. `depth` counts nested fields (a root field is at depth
    1) outside introspection; `fields` and `aliases` count every field selection and
    alias written in the document."""

    fields: int
    depth: int
    aliases: int
    cost: int


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """Depth and cost of the operation `operation_name` (or the first one), fields and
    aliases of the whole document. Runs before validation, so it tolerates unknown fields
    and types and fragment cycles (a cycle adds nothing; validation rejects it). Linear in
    the size of the document: each fragment is measured once, however often it is spread."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = _chosen(operations, operation_name)
    return _measure(schema, document, _Arguments(chosen, variables or {}))


def _chosen(
    operations: list[OperationDefinitionNode], operation_name: str | None
) -> OperationDefinitionNode | None:
    return next(
        (
            op
            for op in operations
            if operation_name is None or (op.name is not None and op.name.value == operation_name)
        ),
        None,
    )


def _measure(schema: GraphQLSchema, document: DocumentNode, arguments: _Arguments) -> Measure:
    chosen = arguments.operation
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(schema, arguments)
    others = [walker.walk(op.selection_set, None) for op in operations if op is not chosen]
    local = {
        name: walker.walk(
            fragment.selection_set, schema.get_type(fragment.type_condition.name.value)
        )
        for name, fragment in fragments.items()
    }
    parts = others + list(local.values())
    fields = sum(part.fields for part in parts)
    aliases = sum(part.aliases for part in parts)
    if chosen is None:
        return Measure(fields, 0, aliases, 0)
    root = walker.walk(chosen.selection_set, _root_type(schema, chosen))
    fields += root.fields
    aliases += root.aliases
    totals = _fragment_totals(local)
    depth = max(
        [root.depth]
        + [
            offset + totals.get(name, (0, 0))[0]
            for name, offset, _ in root.spreads
            if offset is not None
        ]
    )
    cost = root.cost + sum(times * totals.get(name, (0, 0))[1] for name, _, times in root.spreads)
    return Measure(fields, depth, aliases, cost)


def _root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLNamedType | None:
    return schema.get_root_type(operation.operation)


@dataclass(slots=True)
class _Part:
    """A selection set measured without following its fragment spreads."""

    fields: int = 0
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    # (fragment, depth of the field it is spread in or None where depth is not counted,
    # objects per item of the fragment)
    spreads: list[tuple[str, int | None, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Arguments:
    """Reads integer and list arguments, from literals or the operation's variables.
    `read` records each variable read and what was found: (name, given, value)."""

    operation: OperationDefinitionNode | None
    variables: Mapping[str, Any]
    read: list[tuple[str, bool, Any]] = field(default_factory=list)

    def value(self, node: ValueNode | None) -> Any:
        if node is None or isinstance(node, NullValueNode):
            return None
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        if isinstance(node, VariableNode):
            name = node.name.value
            given = name in self.variables
            self.read.append((name, given, self.variables.get(name)))
            if given:
                return self.variables[name]
            definitions = self.operation.variable_definitions if self.operation else None
            for definition in definitions or ():
                if definition.variable.name.value == name:
                    return self.value(definition.default_value)
            return None
        return node  # another literal: one value

    def page_size(self, node: FieldNode, name: str) -> int | None:
        """The page size asked for by argument `name`, or None when not given.

        JSON has one number type, and GraphQL's Int takes 1e2 for 100, so an integral
        float counts as its integer. Any other value fails variable coercion before a
        field runs; it is costed as the largest page, never as the default.
        """
        value = self.value(_argument(node, name))
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return MAX_PAGE


class _Walker:
    def __init__(self, schema: GraphQLSchema, arguments: _Arguments) -> None:
        self._schema = schema
        self._arguments = arguments

    def walk(self, selections: SelectionSetNode, parent: GraphQLNamedType | None) -> _Part:
        part = _Part()
        self._walk(selections, parent, 0, 1, part)
        return part

    def _walk(
        self,
        selections: SelectionSetNode,
        parent: GraphQLNamedType | None,
        depth: int | None,
        times: int,
        part: _Part,
    ) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                part.fields += 1
                if selection.alias is not None:
                    part.aliases += 1
                name = selection.name.value
                # Introspection is served from memory and its nested `ofType` chains are
                # deep by design; its lists still count toward the cost.
                inner = None if depth is None or name.startswith("__") else depth + 1
                if inner is not None:
                    part.depth = max(part.depth, inner)
                if selection.selection_set is None:
                    continue
                definition = _field(self._schema, parent, name)
                size = self._size(definition, parent, selection)
                if size is not None:
                    part.cost += times * size
                self._walk(
                    selection.selection_set,
                    None if definition is None else get_named_type(definition.type),
                    inner,
                    times * (1 if size is None else size),
                    part,
                )
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                self._walk(
                    selection.selection_set,
                    parent if condition is None else self._schema.get_type(condition.name.value),
                    depth,
                    times,
                    part,
                )
            elif isinstance(selection, FragmentSpreadNode):
                part.spreads.append((selection.name.value, depth, times))

    def _size(
        self, definition: GraphQLField | None, parent: GraphQLNamedType | None, node: FieldNode
    ) -> int | None:
        """Objects per parent item the field returns, when it is a list that counts."""
        if definition is None:
            return None
        if "first" in definition.args and "last" in definition.args:
            first = self._arguments.page_size(node, "first")
            last = self._arguments.page_size(node, "last")
            size = first if first is not None else last if last is not None else DEFAULT_PAGE
            # The resolver refuses more than MAX_PAGE (BAD_USER_INPUT) before fetching.
            return max(0, min(size, MAX_PAGE))
        if not isinstance(get_nullable_type(definition.type), GraphQLList):
            return None
        if not is_composite_type(get_named_type(definition.type)):
            return None
        if parent is not None and parent.name.endswith("Connection"):
            return None  # a connection's edges and nodes: counted by the connection
        if "ids" in definition.args:
            ids = self._arguments.value(_argument(node, "ids"))
            count = len(ids) if isinstance(ids, list) else 0 if ids is None else 1
            return min(count, MAX_NODES)
        return LIST_ESTIMATE


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    for argument in node.arguments or ():
        if argument.name.value == name:
            return argument.value
    return None


def _field(
    schema: GraphQLSchema, parent: GraphQLNamedType | None, name: str
) -> GraphQLField | None:
    if parent is not None and parent is schema.query_type:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _fragment_totals(local: dict[str, _Part]) -> dict[str, tuple[int, int]]:
    """(depth, cost) of each fragment with the fragments it spreads, computed without
    recursion (a chain of fragments can be long); a spread that closes a cycle adds
    nothing."""
    totals: dict[str, tuple[int, int]] = {}
    for start in local:
        if start in totals:
            continue
        on_path = {start}
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, index = stack[-1]
            spreads = local[name].spreads
            if index < len(spreads):
                stack[-1] = (name, index + 1)
                child = spreads[index][0]
                if child in local and child not in totals and child not in on_path:
                    on_path.add(child)
                    stack.append((child, 0))
                continue
            stack.pop()
            on_path.discard(name)
            part = local[name]
            depth, cost = part.depth, part.cost
            for child, offset, times in spreads:
                # A missing total is an unknown fragment or one on the current cycle.
                child_depth, child_cost = totals.get(child, (0, 0))
                if offset is not None:
                    depth = max(depth, offset + child_depth)
                cost += times * child_cost
            totals[name] = (depth, cost)
    return totals


class MeasureCache:
    """measure(), remembered per document and operation together with the variables it
    read: a client repeats its documents with new variables, and most variables (an id, a
    search) do not change the measure. Documents are keyed by identity, which the parse
    cache makes one object per text; an entry keeps its document alive so that the
    identity is not reused."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[
            tuple[int, str | None],
            tuple[DocumentNode, list[tuple[str, bool, Any]], Measure],
        ] = OrderedDict()

    def measure(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Measure:
        given = variables or {}
        key = (id(document), operation_name)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is document and _same(entry[1], given):
            self._entries.move_to_end(key)
            return entry[2]
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        arguments = _Arguments(_chosen(operations, operation_name), given)
        found = _measure(schema, document, arguments)
        self._entries[key] = (document, arguments.read, found)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return found


def _same(read: list[tuple[str, bool, Any]], variables: Mapping[str, Any]) -> bool:
    for name, given, value in read:
        if (name in variables) != given:
            return False
        if given:
            now = variables[name]
            # 100 and 100.0 and True compare equal in Python but not as page sizes.
            if type(now) is not type(value) or now != value:
                return False
    return True
