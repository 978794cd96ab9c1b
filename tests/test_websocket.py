"""WebSockets are not served (the schema has no subscriptions yet): no route takes a
handshake, which is closed before it is accepted, and uvicorn answers the HTTP upgrade
with 403 without logging an error."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from tests.conftest import websocket_handshake

UPGRADE = (
    b"GET /graphql HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
    b"\r\n"
)


def test_no_route_serves_websockets(app: Starlette) -> None:
    assert [route for route in app.routes if isinstance(route, WebSocketRoute)] == []


async def test_a_handshake_is_closed_before_it_is_accepted(app: Starlette) -> None:
    sent = await websocket_handshake(app, host="127.0.0.1:8000", client="127.0.0.1")

    assert [message["type"] for message in sent] == ["websocket.close"]


async def test_an_upgrade_is_refused_with_403_and_no_error_logged(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, ws="websockets-sansio")
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[listening]))
    try:
        while not served.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(UPGRADE)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            await writer.wait_closed()
    finally:
        served.should_exit = True
        await task
        listening.close()

    assert status.startswith(b"HTTP/1.1 403")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
