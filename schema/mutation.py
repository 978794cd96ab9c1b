"""The Mutation root, merged from one class of mutations per domain."""

from __future__ import annotations

from strawberry.tools import merge_types

from schema.admin_mutations import AdminMutations
from schema.contact_mutations import ContactMutations
from schema.note_mutations import NoteMutations

# Each domain module defines a @strawberry.type class of mutations; list it here.
MUTATIONS: tuple[type, ...] = (NoteMutations, ContactMutations, AdminMutations)

Mutation = merge_types("Mutation", MUTATIONS)
# merge_types takes no description; GraphiQL shows this one.
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Everything an agent can change. Expected failures come back as `userErrors`, with "
    "nothing changed."
)
