"""The GraphQL schema: thin Strawberry types over resolvers/."""

from __future__ import annotations

import strawberry

from schema.agents import Agent, Team, VipGroup
from schema.attributes import AttributeDefinition
from schema.contacts import Contact
from schema.conversations import Conversation, Message
from schema.notes import Note
from schema.mutation import Mutation
from schema.query import Query


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Agent, Team, VipGroup, AttributeDefinition, Contact, Conversation, Message, Note],
    )


schema = build_schema()
