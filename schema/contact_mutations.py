"""Mutations any agent may make to a contact: VIP status and attribute values."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import contact_attributes, vip
from resolvers.contact_attributes import AttributeChange
from schema.attributes import Attribute
from schema.base import Info, UserError, user_errors
from schema.contacts import Contact


@strawberry.input(description="Which contact to make a VIP, and in which VIP group.")
class PromoteContactToVipInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    vip_group_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The VIP group to place the contact in; null or left out for a VIP "
        "without a group. A VIP in another group moves to this one.",
    )


@strawberry.type(description="The result of promoteContactToVip.")
class PromoteContactToVipPayload:
    contact: Contact | None = strawberry.field(
        description="The contact as it is now; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND); empty on success."
    )


@strawberry.input(description="Which contact to make a regular contact again.")
class DemoteContactFromVipInput:
    contact_id: strawberry.ID = strawberry.field(
        description="The contact; demoting a contact that is not a VIP changes nothing."
    )


@strawberry.type(description="The result of demoteContactFromVip.")
class DemoteContactFromVipPayload:
    contact: Contact | None = strawberry.field(
        description="The contact as it is now; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND); empty on success."
    )


@strawberry.input(description="A value for one of a contact's attributes.")
class SetContactAttributeInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    key: str = strawberry.field(description="The attribute definition's key, e.g. `language`.")
    value: str = strawberry.field(
        description="The value, checked against the definition's type and pattern and stored "
        "normalised (trimmed; NUMBER in plain decimal notation with a dot and no thousands "
        "separators, stored without superfluous zeros; BOOLEAN `true`/`false`; DATE "
        "YYYY-MM-DD; URL with a lower-cased host, refused with spaces, backslashes or "
        "control characters; EMAIL with a lower-cased domain; PHONE as E.164; SELECT as the "
        "option is spelled, matched ignoring case)."
    )


@strawberry.type(description="The result of setContactAttribute.")
class SetContactAttributePayload:
    contact: Contact | None = strawberry.field(
        description="The contact as it is now; null when the input was refused."
    )
    attribute: Attribute | None = strawberry.field(
        description="The attribute with its normalised value; null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND, INVALID_VALUE, READ_ONLY, BLANK, "
        "TOO_LONG); empty on success."
    )


@strawberry.input(description="Which of a contact's attribute values to remove.")
class ClearContactAttributeInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    key: str = strawberry.field(
        description="The attribute definition's key; clearing an unset value changes nothing."
    )


@strawberry.type(description="The result of clearContactAttribute.")
class ClearContactAttributePayload:
    contact: Contact | None = strawberry.field(
        description="The contact as it is now; null when the input was refused."
    )
    attribute: Attribute | None = strawberry.field(
        description="The attribute, now without a value (who cleared it and when are its "
        "updatedBy and updatedAt); null when the input was refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the input was refused (NOT_FOUND, INVALID_VALUE, READ_ONLY); empty "
        "on success."
    )


@strawberry.type(description="Changes any agent may make to a contact.")
class ContactMutations:
    @strawberry.mutation(
        description="Makes a contact a VIP, optionally in a VIP group; its conversations move "
        "up the queue and to the group's team at once."
    )
    async def promote_contact_to_vip(
        self,
        info: Info,
        input: Annotated[
            PromoteContactToVipInput, strawberry.argument(description="The contact and group.")
        ],
    ) -> PromoteContactToVipPayload:
        found = await vip.promote(info.context, input.contact_id, input.vip_group_id)
        if isinstance(found, list):
            return PromoteContactToVipPayload(contact=None, user_errors=user_errors(found))
        return PromoteContactToVipPayload(contact=Contact.of(found), user_errors=[])

    @strawberry.mutation(
        description="Makes a VIP a regular contact; its conversations return to their normal "
        "queue place and team at once."
    )
    async def demote_contact_from_vip(
        self,
        info: Info,
        input: Annotated[
            DemoteContactFromVipInput, strawberry.argument(description="The contact.")
        ],
    ) -> DemoteContactFromVipPayload:
        found = await vip.demote(info.context, input.contact_id)
        if isinstance(found, list):
            return DemoteContactFromVipPayload(contact=None, user_errors=user_errors(found))
        return DemoteContactFromVipPayload(contact=Contact.of(found), user_errors=[])

    @strawberry.mutation(
        description="Sets a contact's value of an attribute. A change to an editable "
        "CRM-managed attribute is also queued for the CRM; setting the current value again "
        "changes nothing."
    )
    async def set_contact_attribute(
        self,
        info: Info,
        input: Annotated[
            SetContactAttributeInput,
            strawberry.argument(description="The contact, attribute key and value."),
        ],
    ) -> SetContactAttributePayload:
        found = await contact_attributes.set_attribute(
            info.context, input.contact_id, input.key, input.value
        )
        if isinstance(found, AttributeChange):
            return SetContactAttributePayload(
                contact=Contact.of(found.contact),
                attribute=Attribute.of(found.attribute),
                user_errors=[],
            )
        return SetContactAttributePayload(
            contact=None, attribute=None, user_errors=user_errors(found)
        )

    @strawberry.mutation(
        description="Removes a contact's value of an attribute. Clearing an editable "
        "CRM-managed attribute is also queued for the CRM."
    )
    async def clear_contact_attribute(
        self,
        info: Info,
        input: Annotated[
            ClearContactAttributeInput,
            strawberry.argument(description="The contact and attribute key."),
        ],
    ) -> ClearContactAttributePayload:
        found = await contact_attributes.clear_attribute(info.context, input.contact_id, input.key)
        if isinstance(found, AttributeChange):
            return ClearContactAttributePayload(
                contact=Contact.of(found.contact),
                attribute=Attribute.of(found.attribute),
                user_errors=[],
            )
        return ClearContactAttributePayload(
            contact=None, attribute=None, user_errors=user_errors(found)
        )
