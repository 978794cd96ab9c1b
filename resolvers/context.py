"""What every resolver receives: the agent, their organisation, the request's database
session and its loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from db.agents import Agent
from db.organizations import Organization
from resolvers.loaders import Loaders
from resolvers.session import Session


@dataclass(eq=False, slots=True)
class Context:
    request: Request
    response: Response | None
    session: Session
    agent: Agent
    organization: Organization
    request_id: str
    loaders: Loaders = field(init=False)
    # What resolvers derive once per request and share, under a name of their module's.
    memo: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = Loaders(
            self.session,
            self.agent.organization_id,
            self.organization.attribute_definitions_version,
        )

    @property
    def organization_id(self) -> int:
        return self.agent.organization_id
