"""Agents, teams and VIP groups."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import agents as agents_db
from db import teams as teams_db
from resolvers import ids
from schema.base import Info, Node
from schema.enums import AgentRole


@strawberry.type(description="A person who answers conversations.")
class Agent(Node):
    name: str = strawberry.field(description="Display name.")
    email: str = strawberry.field(description="Email address.")
    avatar_url: str | None = strawberry.field(description="Picture, if any.")
    role: AgentRole = strawberry.field(description="What the agent may do.")

    @classmethod
    def of(cls, row: agents_db.Agent) -> Agent:
        return cls(
            id=strawberry.ID(ids.encode("Agent", row.id)),
            name=row.name,
            email=row.email,
            avatar_url=row.avatar_url,
            role=AgentRole(row.role),
        )


@strawberry.type(description="A team of agents that conversations can be routed to.")
class Team(Node):
    name: str = strawberry.field(description="The team's name.")

    @classmethod
    def of(cls, row: teams_db.Team) -> Team:
        return cls(id=strawberry.ID(ids.encode("Team", row.id)), name=row.name)


@strawberry.type(
    description="A group of VIP contacts: their conversations rank higher in the queue and "
    "may be routed to a team."
)
class VipGroup(Node):
    name: str = strawberry.field(description="The group's name, unique in the organisation.")
    priority: int = strawberry.field(
        description="0–1000; a higher priority ranks the group's conversations first."
    )
    created_at: datetime = strawberry.field(description="When the group was created.")
    updated_at: datetime = strawberry.field(description="When the group last changed.")
    team_id: strawberry.Private[int | None]

    @strawberry.field(description="The team that receives this group's conversations.")
    async def team(self, info: Info) -> Team | None:
        return await load_team(info, self.team_id)

    @classmethod
    def of(cls, row: teams_db.VipGroup) -> VipGroup:
        return cls(
            id=strawberry.ID(ids.encode("VipGroup", row.id)),
            name=row.name,
            priority=row.priority,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
        )


async def load_agent(info: Info, agent_id: int | None) -> Agent | None:
    if agent_id is None:
        return None
    row = await info.context.loaders.agent_by_id.load(agent_id)
    return None if row is None else Agent.of(row)


async def load_team(info: Info, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    row = await info.context.loaders.team_by_id.load(team_id)
    return None if row is None else Team.of(row)


async def load_vip_group(info: Info, vip_group_id: int | None) -> VipGroup | None:
    if vip_group_id is None:
        return None
    row = await info.context.loaders.vip_group_by_id.load(vip_group_id)
    return None if row is None else VipGroup.of(row)
