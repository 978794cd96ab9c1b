"""What a field's selection asks for below it, known before its resolver reads anything:
so that one statement can read what a deeper field will need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, SelectionSetNode

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
