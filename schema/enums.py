"""Enums of the API; their values are what the database stores."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry

from resolvers.errors import UserErrorCode


@strawberry.enum(description="The social network a contact wrote from.")
class SocialNetwork(Enum):
    X = "X"
    INSTAGRAM = "INSTAGRAM"
    FACEBOOK = "FACEBOOK"
    LINKEDIN = "LINKEDIN"
    TIKTOK = "TIKTOK"
    YOUTUBE = "YOUTUBE"


@strawberry.enum(description="Whether an external CRM has validated a contact.")
class ValidationStatus(Enum):
    VALIDATED = strawberry.enum_value(
        "VALIDATED", description="Looked up and verified in the organisation's CRM."
    )
    NOT_VALIDATED = strawberry.enum_value(
        "NOT_VALIDATED", description="Not verified in a CRM (or the organisation has none)."
    )


@strawberry.enum(description="Where an attribute comes from.")
class AttributeKind(Enum):
    COMMON = strawberry.enum_value(
        "COMMON", description="Email, phone and URL: present in every organisation."
    )
    CRM = strawberry.enum_value(
        "CRM", description="Managed by the CRM; editable ones are written back to it."
    )
    CUSTOM = strawberry.enum_value("CUSTOM", description="Defined by the organisation's admins.")


@strawberry.enum(description="The type an attribute's value is validated against.")
class AttributeType(Enum):
    TEXT = strawberry.enum_value("TEXT", description="Free text, at most 2,000 characters.")
    NUMBER = strawberry.enum_value("NUMBER", description="A decimal number.")
    BOOLEAN = strawberry.enum_value("BOOLEAN", description="`true` or `false`.")
    DATE = strawberry.enum_value("DATE", description="A calendar date, ISO 8601 (YYYY-MM-DD).")
    URL = strawberry.enum_value("URL", description="An http or https URL.")
    EMAIL = strawberry.enum_value("EMAIL", description="An email address.")
    PHONE = strawberry.enum_value("PHONE", description="A phone number, stored as E.164.")
    SELECT = strawberry.enum_value("SELECT", description="One of the definition's `options`.")


@strawberry.enum(description="Where a conversation stands.")
class ConversationStatus(Enum):
    OPEN = strawberry.enum_value("OPEN", description="Waiting for an agent.")
    PENDING = strawberry.enum_value("PENDING", description="Waiting for the customer.")
    CLOSED = strawberry.enum_value("CLOSED", description="Done.")


@strawberry.enum(description="Orders of the conversation list.")
class ConversationOrder(Enum):
    QUEUE = strawberry.enum_value(
        "QUEUE",
        description="VIPs first, higher VIP group priority first, then the longest waiting "
        "(oldest last message) first.",
    )
    NEWEST = strawberry.enum_value("NEWEST", description="Most recent last message first.")


@strawberry.enum(description="Who sent a message.")
class MessageDirection(Enum):
    INBOUND = strawberry.enum_value("INBOUND", description="From the contact.")
    OUTBOUND = strawberry.enum_value("OUTBOUND", description="From the organisation.")


@strawberry.enum(description="What an agent may do.")
class AgentRole(Enum):
    AGENT = strawberry.enum_value("AGENT", description="Works the inbox.")
    ADMIN = strawberry.enum_value("ADMIN", description="Also defines attributes and VIP groups.")


strawberry.enum(UserErrorCode, description="Why a mutation refused its input.")


E = TypeVar("E", bound=Enum)


def by_value(enum: type[E]) -> dict[str, E]:
    """The members by the value the database stores: a dict lookup costs a fraction of
    calling the enum, which shows on a page of hundreds of attributes."""
    return {member.value: member for member in enum}


ATTRIBUTE_KINDS = by_value(AttributeKind)
ATTRIBUTE_TYPES = by_value(AttributeType)
CONVERSATION_STATUSES = by_value(ConversationStatus)
SOCIAL_NETWORKS = by_value(SocialNetwork)
VALIDATION_STATUSES = by_value(ValidationStatus)
