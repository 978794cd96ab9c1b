from __future__ import annotations

from tests.conftest import Org

VIEWER = "{ viewer { name role } }"


async def test_viewer_is_the_token_holder(demo_org: Org) -> None:
    reply = await demo_org.admin(VIEWER)
    assert reply.status == 200
    assert reply.data == {"viewer": {"name": "Alex Admin", "role": "ADMIN"}}
