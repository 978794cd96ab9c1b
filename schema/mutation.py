"""The Mutation root, merged from one class of mutations per domain."""

from __future__ import annotations

from strawberry.tools import merge_types

# Each domain module defines a @strawberry.type class of mutations; list it here.
MUTATIONS: tuple[type, ...] = ()

Mutation = merge_types("Mutation", MUTATIONS) if MUTATIONS else None
