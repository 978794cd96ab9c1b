"""The GraphQL schema: thin Strawberry types over resolvers/."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext as StrawberryExecutionContext

from schema.agents import Agent, Team, VipGroup
from schema.attributes import AttributeDefinition
from schema.contacts import Contact
from schema.conversations import Conversation, Message
from schema.executor import ExecutionContext
from schema.hooks import HookRunner
from schema.limits import QueryLimits
from schema.mutation import Mutation
from schema.notes import Note
from schema.query import Query


class Schema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: StrawberryExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logs nothing: expected errors are the client's business, and unexpected ones
        are logged once, with the request id, where they are masked (schema/http.py)."""


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        types=[Agent, Team, VipGroup, AttributeDefinition, Contact, Conversation, Message, Note],
        extensions=[QueryLimits],
        execution_context_class=ExecutionContext,
    )


schema = build_schema()
