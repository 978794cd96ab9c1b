"""What a field's selection asks for below it, known before its resolver reads anything:
so that one statement can read what a deeper field will need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    SelectionSetNode,
    get_argument_values,
    get_named_type,
)
from graphql.execution.values import VariableValues

from resolvers.pagination import PageArgs
from schema.base import Info


def selects(info: Info, *paths: Sequence[str]) -> bool:
    """Whether the field's selection reaches any of `paths` (GraphQL field names, from the
    field's own selection down), through fragments and aliases. Directives are not
    evaluated: a field under `@skip(if: true)` counts as selected (reading for it costs a
    little; missing it would cost a statement).

    It walks the document's nodes rather than Strawberry's `selected_fields`, which
    converts the whole selection (arguments, directives) first, at a cost of about 1% of a
    queue page."""
    raw = info._raw_info
    sets = [node.selection_set for node in raw.field_nodes]
    return any(_reaches(sets, tuple(path), raw.fragments) for path in paths)


def page_arguments(info: Info, name: str) -> PageArgs | None:
    """The page arguments of the list field `name` of the field's own selection (through
    fragments and aliases), variables applied, where every occurrence has the same; None
    where it is not selected, is selected with different pages, or its arguments do not
    coerce (its resolver reports that)."""
    raw = info._raw_info
    object_type = get_named_type(raw.return_type)
    if not isinstance(object_type, GraphQLObjectType) or name not in object_type.fields:
        return None
    definition = object_type.fields[name]
    sets = [node.selection_set for node in raw.field_nodes]
    # Strawberry's info holds the coerced values alone (graphql-core's, with their
    # sources): coercing an argument reads only those of the operation's variables.
    given: Any = raw.variable_values
    variables = given if isinstance(given, VariableValues) else VariableValues({}, given)
    found: dict[str, Any] | None = None
    for field in _fields(sets, raw.fragments):
        if field.name.value != name:
            continue
        try:
            arguments = get_argument_values(definition, field, variables)
        except GraphQLError:
            return None
        if found is not None and arguments != found:
            return None
        found = arguments
    if found is None:
        return None
    return PageArgs(found.get("first"), found.get("after"), found.get("last"), found.get("before"))


def _reaches(
    sets: Iterable[SelectionSetNode | None],
    path: tuple[str, ...],
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    name, rest = path[0], path[1:]
    return any(
        field.name.value == name and (not rest or _reaches([field.selection_set], rest, fragments))
        for field in _fields(sets, fragments)
    )


def _fields(
    sets: Iterable[SelectionSetNode | None], fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields of the selection sets, those of their fragments included."""
    found: list[FieldNode] = []
    stack: list[Any] = [selection_set for selection_set in sets if selection_set is not None]
    while stack:
        selection_set = stack.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)
            elif selection.selection_set is not None:  # an inline fragment
                stack.append(selection.selection_set)
    return found
