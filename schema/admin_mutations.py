"""Mutations for administrators: attribute definitions and VIP groups. Any other agent
gets a top-level FORBIDDEN error and nothing changes."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import strawberry
from strawberry import UNSET

from resolvers import attribute_definitions, attributes, vip
from resolvers.attribute_definitions import DefinitionChanges, NewDefinition
from resolvers.updates import UNCHANGED, Unchanged
from resolvers.vip import VipGroupChanges
from schema.agents import VipGroup
from schema.attributes import AttributeDefinition
from schema.base import Info, UserError, user_errors
from schema.enums import AttributeType

T = TypeVar("T")


def _left_out_or_null(value: T | None) -> T | Unchanged:
    """For fields null cannot clear: left out and null both keep the current value."""
    return UNCHANGED if value is UNSET or value is None else value


def _left_out(value: Any) -> Any:
    """For fields null clears: only a left-out field keeps the current value."""
    return UNCHANGED if value is UNSET else value


_LABEL = (
    f"at most {attribute_definitions.MAX_LABEL:,} characters after trimming (it is stored trimmed)"
)
_OPTIONS = (
    f"required for SELECT (at most {attribute_definitions.MAX_OPTIONS:,}, distinct ignoring "
    f"case, each at most {attribute_definitions.MAX_OPTION:,} characters after trimming), not "
    "allowed for other types"
)
_PATTERN = (
    "A regular expression every value set from then on must match in full (after "
    f"normalisation), in {attributes.PATTERN_DIALECT}; at most "
    f"{attributes.MAX_PATTERN:,} characters; refused when too costly to compile; not for "
    "BOOLEAN or SELECT."
)
_DESCRIPTION = (
    f"at most {attribute_definitions.MAX_DESCRIPTION:,} characters after trimming (it is "
    "stored trimmed)"
)
_POSITION = f"from {attribute_definitions.MIN_POSITION:,} to {attribute_definitions.MAX_POSITION:,}"
_NAME = (
    f"Unique in the organisation ignoring case; at most {vip.MAX_NAME:,} characters after "
    "trimming (it is stored trimmed)."
)
_PRIORITY = f"{vip.MIN_PRIORITY}–{vip.MAX_PRIORITY:,}"


@strawberry.input(description="A new custom attribute that agents can fill in for contacts.")
class CreateAttributeDefinitionInput:
    key: str = strawberry.field(
        description="Stable identifier: a lower-case letter, then lower-case letters, digits "
        f"or underscores, {attributes.MAX_KEY} characters at most; unique in the organisation "
        "and not a built-in contact field (such as `name` or `handle`)."
    )
    label: str = strawberry.field(description=f"What the panel shows, {_LABEL}.")
    type: AttributeType = strawberry.field(description="The type values are validated against.")
    options: list[str] = strawberry.field(
        default_factory=list, description=f"The allowed values: {_OPTIONS}."
    )
    pattern: str | None = strawberry.field(default=None, description=_PATTERN)
    description: str | None = strawberry.field(
        default=None, description=f"Help text for agents, {_DESCRIPTION}."
    )
    position: int | None = strawberry.field(
        default=None,
        description=f"Order on the panel, ascending, {_POSITION}; left out: after every other "
        f"attribute (at {attribute_definitions.MAX_POSITION:,} once that is taken, ties "
        "sorting by creation).",
    )


@strawberry.type(description="The result of createAttributeDefinition.")
class CreateAttributeDefinitionPayload:
    attribute_definition: AttributeDefinition | None = strawberry.field(
        description="The new definition (kind CUSTOM, editable); null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (INVALID_VALUE, ALREADY_EXISTS, BLANK, "
        "TOO_LONG); empty on success."
    )


@strawberry.input(
    description="Changes to an attribute definition; a field left out stays as it is, and so "
    "does one given as null unless null removes it (pattern, description)."
)
class UpdateAttributeDefinitionInput:
    id: strawberry.ID = strawberry.field(description="The definition.")
    label: str | None = strawberry.field(default=UNSET, description=f"A new label, {_LABEL}.")
    type: AttributeType | None = strawberry.field(
        default=UNSET,
        description="A new type: only while no contact has a value; never for COMMON "
        "attributes. Options and a pattern left out are dropped if the new type cannot have "
        "them.",
    )
    options: list[str] | None = strawberry.field(
        default=UNSET,
        description=f"The new list of options: {_OPTIONS}; options that contacts have cannot "
        "be removed.",
    )
    pattern: str | None = strawberry.field(
        default=UNSET,
        description=f"A new pattern; null removes it. {_PATTERN}",
    )
    description: str | None = strawberry.field(
        default=UNSET,
        description=f"New help text, {_DESCRIPTION}; null removes it.",
    )
    position: int | None = strawberry.field(
        default=UNSET, description=f"A new position, {_POSITION}."
    )
    archived: bool | None = strawberry.field(
        default=UNSET,
        description="Archive (hide from contacts, refuse new values; values are kept) or "
        "restore; COMMON attributes cannot be archived.",
    )


@strawberry.type(description="The result of updateAttributeDefinition.")
class UpdateAttributeDefinitionPayload:
    attribute_definition: AttributeDefinition | None = strawberry.field(
        description="The definition as it is now; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND, READ_ONLY, INVALID_VALUE, BLANK, "
        "TOO_LONG); empty on success."
    )


@strawberry.input(description="A new VIP group.")
class CreateVipGroupInput:
    name: str = strawberry.field(description=_NAME)
    priority: int = strawberry.field(
        default=0, description=f"{_PRIORITY}; a higher priority ranks the group's VIPs first."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The team that receives the group's VIPs' conversations."
    )


@strawberry.type(description="The result of createVipGroup.")
class CreateVipGroupPayload:
    vip_group: VipGroup | None = strawberry.field(
        description="The new group; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (INVALID_VALUE, ALREADY_EXISTS, NOT_FOUND, "
        "BLANK, TOO_LONG); empty on success."
    )


@strawberry.input(
    description="Changes to a VIP group; a field left out stays as it is, and so does a null "
    "name or priority."
)
class UpdateVipGroupInput:
    id: strawberry.ID = strawberry.field(description="The group.")
    name: str | None = strawberry.field(default=UNSET, description=f"A new name. {_NAME}")
    priority: int | None = strawberry.field(
        default=UNSET, description=f"A new priority ({_PRIORITY}); the queue follows at once."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=UNSET,
        description="A new team for the group's VIPs' conversations; null for none. The "
        "conversations are routed at once.",
    )


@strawberry.type(description="The result of updateVipGroup.")
class UpdateVipGroupPayload:
    vip_group: VipGroup | None = strawberry.field(
        description="The group as it is now; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND, INVALID_VALUE, ALREADY_EXISTS, "
        "BLANK, TOO_LONG); empty on success."
    )


@strawberry.type(description="Changes only administrators may make.")
class AdminMutations:
    @strawberry.mutation(
        description="Defines a custom contact attribute. Administrators only (FORBIDDEN)."
    )
    async def create_attribute_definition(
        self,
        info: Info,
        input: Annotated[
            CreateAttributeDefinitionInput, strawberry.argument(description="The definition.")
        ],
    ) -> CreateAttributeDefinitionPayload:
        new = NewDefinition(
            key=input.key,
            label=input.label,
            type=input.type.name,
            options=list(input.options),
            pattern=input.pattern,
            description=input.description,
            position=input.position,
        )
        found = await attribute_definitions.create_definition(info.context, new)
        if isinstance(found, list):
            return CreateAttributeDefinitionPayload(
                attribute_definition=None, user_errors=user_errors(found)
            )
        return CreateAttributeDefinitionPayload(
            attribute_definition=AttributeDefinition.of(found), user_errors=[]
        )

    @strawberry.mutation(
        description="Changes an attribute definition. Administrators only (FORBIDDEN)."
    )
    async def update_attribute_definition(
        self,
        info: Info,
        input: Annotated[
            UpdateAttributeDefinitionInput, strawberry.argument(description="The changes.")
        ],
    ) -> UpdateAttributeDefinitionPayload:
        new_type = _left_out_or_null(input.type)
        changes = DefinitionChanges(
            label=_left_out_or_null(input.label),
            type=new_type if isinstance(new_type, Unchanged) else new_type.name,
            options=_left_out_or_null(input.options),
            pattern=_left_out(input.pattern),
            description=_left_out(input.description),
            position=_left_out_or_null(input.position),
            archived=_left_out_or_null(input.archived),
        )
        found = await attribute_definitions.update_definition(info.context, input.id, changes)
        if isinstance(found, list):
            return UpdateAttributeDefinitionPayload(
                attribute_definition=None, user_errors=user_errors(found)
            )
        return UpdateAttributeDefinitionPayload(
            attribute_definition=AttributeDefinition.of(found), user_errors=[]
        )

    @strawberry.mutation(description="Creates a VIP group. Administrators only (FORBIDDEN).")
    async def create_vip_group(
        self,
        info: Info,
        input: Annotated[CreateVipGroupInput, strawberry.argument(description="The group.")],
    ) -> CreateVipGroupPayload:
        found = await vip.create_vip_group(info.context, input.name, input.priority, input.team_id)
        if isinstance(found, list):
            return CreateVipGroupPayload(vip_group=None, user_errors=user_errors(found))
        return CreateVipGroupPayload(vip_group=VipGroup.of(found), user_errors=[])

    @strawberry.mutation(
        description="Changes a VIP group; its VIPs' conversations are re-ranked and re-routed "
        "at once. Administrators only (FORBIDDEN)."
    )
    async def update_vip_group(
        self,
        info: Info,
        input: Annotated[UpdateVipGroupInput, strawberry.argument(description="The changes.")],
    ) -> UpdateVipGroupPayload:
        changes = VipGroupChanges(
            name=_left_out_or_null(input.name),
            priority=_left_out_or_null(input.priority),
            team_gid=_left_out(input.team_id),
        )
        found = await vip.update_vip_group(info.context, input.id, changes)
        if isinstance(found, list):
            return UpdateVipGroupPayload(vip_group=None, user_errors=user_errors(found))
        return UpdateVipGroupPayload(vip_group=VipGroup.of(found), user_errors=[])
