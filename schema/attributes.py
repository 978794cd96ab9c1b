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
        values: dict[int, attributes_db.AttributeValue],
        unset: dict[int, Attribute],
    ) -> list[Attribute]:
        """A contact's attributes: each definition with the contact's value (`values`, by
        definition id). The attribute of a definition the contact has no value for is
        the same for every contact: it is made once, kept in `unset` (by the
        definition's identity, one dict per request) and shared; one with a value is a
        copy of it with the value. A queue page then builds some 250 attributes instead
        of 600, each a dict copied instead of nine fields set one by one."""
        listed = []
        for definition in definitions:
            # The definition's identity, not its id: a mutation earlier in the request
            # may have changed it. The attribute keeps it alive, so the id is not reused.
            key = id(definition)
            shared = unset.get(key)
            if shared is None:
                shared = unset[key] = cls.of(ContactAttribute(0, definition, None))
            value = values.get(definition.id)
            listed.append(shared if value is None else shared._with(value))
        return listed

    def _with(self, value: attributes_db.AttributeValue) -> Attribute:
        """This (unset) attribute with a contact's value."""
        attribute = object.__new__(type(self))
        fields = attribute.__dict__
        fields.update(self.__dict__)
        fields["value"] = value.value
        fields["updated_at"] = value.updated_at
        fields["updated_by_id"] = value.updated_by
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
