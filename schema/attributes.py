"""Attribute definitions and a contact's attributes."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import attributes as attributes_db
from resolvers import ids
from resolvers.contacts import ContactAttribute
from schema.agents import Agent, load_agent
from schema.base import Info, Node
from schema.enums import ATTRIBUTE_KINDS, ATTRIBUTE_TYPES, AttributeKind, AttributeType


@strawberry.type(description="A detail contacts can have: common, CRM-managed or custom.")
class AttributeDefinition(Node):
    key: str = strawberry.field(description="Stable identifier, e.g. `email`, `language`.")
    label: str = strawberry.field(description="What the panel shows.")
    kind: AttributeKind = strawberry.field(description="Where the attribute comes from.")
    type: AttributeType = strawberry.field(description="The type values are validated against.")
    options: list[str] = strawberry.field(description="The allowed values of a SELECT.")
    pattern: str | None = strawberry.field(
        description="A regular expression every value must match in full, if set."
    )
    description: str | None = strawberry.field(description="Help text for agents.")
    editable: bool = strawberry.field(description="Whether agents may change values.")
    position: int = strawberry.field(description="Order on the panel, ascending.")
    archived: bool = strawberry.field(
        description="Archived definitions are hidden from contacts and refuse new values."
    )

    @classmethod
    def of(cls, row: attributes_db.AttributeDefinition) -> AttributeDefinition:
        return cls(
            id=strawberry.ID(ids.encode("AttributeDefinition", row.id)),
            key=row.key,
            label=row.label,
            kind=ATTRIBUTE_KINDS[row.kind],
            type=ATTRIBUTE_TYPES[row.type],
            options=list(row.options),
            pattern=row.pattern,
            description=row.description,
            editable=row.editable,
            position=row.position,
            archived=row.archived,
        )


@strawberry.type(description="A definition together with one contact's value for it.")
class Attribute:
    key: str = strawberry.field(description="The definition's key.")
    label: str = strawberry.field(description="The definition's label.")
    kind: AttributeKind = strawberry.field(description="Where the attribute comes from.")
    type: AttributeType = strawberry.field(description="The value's type.")
    value: str | None = strawberry.field(
        description="The contact's value, normalised; null if unset."
    )
    editable: bool = strawberry.field(description="Whether agents may change the value.")
    updated_at: datetime | None = strawberry.field(
        description="When the value was last set or cleared; null if it never was."
    )
    updated_by_id: strawberry.Private[int | None]
    row: strawberry.Private[attributes_db.AttributeDefinition]

    @strawberry.field(
        description="The agent who last set or cleared the value (null for CRM imports, and "
        "if it never was)."
    )
    async def updated_by(self, info: Info) -> Agent | None:
        return await load_agent(info, self.updated_by_id)

    @strawberry.field(description="The attribute's definition.")
    def definition(self) -> AttributeDefinition:
        return AttributeDefinition.of(self.row)

    @classmethod
    def all_of(
        cls,
        definitions: list[attributes_db.AttributeDefinition],
        values: attributes_db.ContactValues,
        listings: dict[int, UnsetListing],
    ) -> list[Attribute]:
        """A contact's attributes: each definition with the contact's value, if any (from
        AttributeTexts, without its history: `updatedAt` and `updatedBy` are then null).

        The attribute of a definition the contact has no value for is the same for every
        contact: the attributes of `definitions` without values are made once per
        request (kept in `listings`, by the identity of the list, which live_definitions
        shares) and copied; each of the contact's values then replaces its definition's
        attribute by a copy with the value (values of definitions not listed are left
        out). A queue page's contacts have some five values of fifteen definitions.
        Values without history are the same attribute for every contact with the same
        value of the same definition (made once per request, kept in the listing): where
        the selection reads plain fields only, the executor then completes each once (see
        schema/levels.py, _Batch)."""
        listing = listings.get(id(definitions))
        # The listing keeps the list alive, so that its id is not another list's.
        if listing is None or listing.definitions is not definitions:
            listing = listings[id(definitions)] = UnsetListing(
                definitions,
                [cls.of(ContactAttribute(0, definition, None)) for definition in definitions],
            )
        listed = listing.attributes.copy()
        positions = listing.positions
        if isinstance(values, attributes_db.AttributeTexts):
            # Without its history, an attribute is its definition and its value: contacts
            # with the same value (a language, a tier) share one.
            shared = listing.valued
            for definition_id, text in zip(values.definition_ids, values.values, strict=True):
                position = positions.get(definition_id)
                if position is not None:
                    attribute = shared.get((position, text))
                    if attribute is None:
                        attribute = shared[position, text] = listed[position]._with(text)
                    listed[position] = attribute
            return listed
        for value in values:
            position = positions.get(value.definition_id)
            if position is not None:
                listed[position] = listed[position]._with(
                    value.value, value.updated_at, value.updated_by
                )
        return listed

    def _with(
        self, value: str | None, updated_at: datetime | None = None, updated_by: int | None = None
    ) -> Attribute:
        """This (unset) attribute with a contact's value."""
        attribute = object.__new__(type(self))
        fields = attribute.__dict__
        fields.update(self.__dict__)
        fields["value"] = value
        fields["updated_at"] = updated_at
        fields["updated_by_id"] = updated_by
        return attribute

    @classmethod
    def of(cls, attribute: ContactAttribute) -> Attribute:
        definition, value = attribute.definition, attribute.value
        return cls(
            key=definition.key,
            label=definition.label,
            kind=ATTRIBUTE_KINDS[definition.kind],
            type=ATTRIBUTE_TYPES[definition.type],
            value=None if value is None else value.value,
            editable=definition.editable,
            updated_at=None if value is None else value.updated_at,
            updated_by_id=None if value is None else value.updated_by,
            row=definition,
        )


class UnsetListing:
    """Attributes without values, one per definition of a list, and each definition's
    position in it by its id; and the attributes with a value but no history made so
    far, by position and value (see Attribute.all_of)."""

    __slots__ = ("attributes", "definitions", "positions", "valued")

    def __init__(
        self, definitions: list[attributes_db.AttributeDefinition], attributes: list[Attribute]
    ) -> None:
        self.definitions = definitions
        self.attributes = attributes
        self.positions = {definition.id: index for index, definition in enumerate(definitions)}
        self.valued: dict[tuple[int, str | None], Attribute] = {}
