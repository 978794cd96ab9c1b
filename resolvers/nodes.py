"""`node(id:)` and `nodes(ids:)`: any object by global id, within the agent's organisation."""

from __future__ import annotations

import asyncio
from typing import Any

from aiodataloader import DataLoader

from resolvers import ids
from resolvers.context import Context
from resolvers.errors import BadUserInput

MAX_NODES = 100

# Node types fetched by primary key, and the loader (an attribute of Loaders) of each.
_LOADERS = {
    "Contact": "contact_by_id",
    "Note": "note_by_id",
    "Conversation": "conversation_by_id",
    "Message": "message_by_id",
    "Agent": "agent_by_id",
    "VipGroup": "vip_group_by_id",
    "Team": "team_by_id",
}


async def load(ctx: Context, global_id: str) -> tuple[str, Any] | None:
    """(type name, row) for an id of this organisation; None for a malformed, unknown,
    deleted or foreign id alike."""
    decoded = ids.decode(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    loaders = ctx.loaders
    name = _LOADERS.get(type_name)
    if name is not None:
        loader: DataLoader[int, Any] = getattr(loaders, name)
        row = await loader.load(pk)
        return None if row is None else (type_name, row)
    if type_name == "AttributeDefinition":
        definitions = await loaders.attribute_definitions_by_organization.load(ctx.organization_id)
        for definition in definitions:
            if definition.id == pk:
                return type_name, definition
    return None


async def load_many(ctx: Context, global_ids: list[str]) -> list[tuple[str, Any] | None]:
    """Raises BadUserInput for more than 100 ids."""
    if len(global_ids) > MAX_NODES:
        raise BadUserInput(f"`ids` takes at most {MAX_NODES} ids, got {len(global_ids)}")
    return list(await asyncio.gather(*(load(ctx, global_id) for global_id in global_ids)))
