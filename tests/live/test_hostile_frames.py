"""Hostile WebSocket frames: the protocol's error frame or a fitting close, never a traceback (issue 12).

Before the guarded reader a binary frame raised ``KeyError``, deep nesting ``RecursionError``,
and uvicorn closed the socket with 1011 after logging a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import bearer, inbox_drained
from tests.servers import ServerThread
from tests.test_alopeyk_receiver import post_webhook, receiver_path, webhook_body

TIMEOUT_S = 15.0
DEEP_FRAME = "[" * 2000 + "]" * 2000  # under both protocols' frame size, far over the depth limit


async def recv(ws: ClientConnection) -> dict[str, Any]:
    """The next frame that is not a keep-alive ping."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
        if frame.get("type") != "ping" and frame.get("event") != "pusher:ping":
            return frame


async def closed_with(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT_S)
    return ws.close_code


@pytest.fixture
async def tracking_token(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> AsyncIterator[str]:
    shipment_id = await post_webhook(http, redis, merchant, webhook_body(id="ord-live"))
    shipment = (await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(merchant["api_key"]))).json()
    yield shipment["tracking_token"]


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def subscribed(server: ServerThread, token: str) -> ClientConnection:
    ws = await connect(ws_url(server, "/v1/live"), open_timeout=TIMEOUT_S)
    await ws.send(json.dumps({"type": "subscribe", "tracking_token": token}))
    assert (await recv(ws))["type"] == "subscribed"
    assert (await recv(ws))["type"] == "snapshot"
    return ws


@pytest.mark.parametrize(
    ("frame", "code", "close_code"),
    [
        (b"\x00\x01binary", "binary_frame", 1003),
        (DEEP_FRAME, "too_deep", 1008),
        ("[" * 30_000, "payload_too_large", 1009),
        ('{"type": "subscribe", "tracking_token": "\\ud800"}', "lone_surrogate", 1007),
        ('{"type": "subscribe", "token": "k\\udc00ey"}', "lone_surrogate", 1007),
        ('{"type": "subscribe", "since": ' + "1" * 200 + "}", "number_too_long", 1008),
        ('{"type": "subscribe", "tracking_token": "@token@", "since": "1-1\\n"}', "bad_request", 4000),
        ("[1]", "bad_request", 4000),
    ],
)
async def test_a_hostile_first_frame_on_v1_live_gets_an_error_frame_and_a_fitting_close(
    hub_server: ServerThread, tracking_token: str, frame: str | bytes, code: str, close_code: int
) -> None:
    async with connect(ws_url(hub_server, "/v1/live"), open_timeout=TIMEOUT_S) as ws:
        await ws.send(frame.replace("@token@", tracking_token) if isinstance(frame, str) else frame)
        error = await recv(ws)
        assert (error["type"], error["code"]) == ("error", code), error
        assert await closed_with(ws) == close_code


async def test_hostile_frames_after_subscribing_close_that_socket_alone(
    hub_server: ServerThread,
    http: httpx.AsyncClient,
    redis: Redis,
    merchant: dict[str, Any],
    tracking_token: str,
) -> None:
    bystander = await subscribed(hub_server, tracking_token)
    for frame, close_code in [(b"\xff", 1003), (DEEP_FRAME, 1008), ('{"a": "\\ud800"}', 1007)]:
        async with await subscribed(hub_server, tracking_token) as ws:
            await ws.send("not json")  # ignored, as it always was
            await ws.send(frame)
            assert (await recv(ws))["type"] == "error"
            assert await closed_with(ws) == close_code
    # The server still serves: the bystander gets the next event, a new socket subscribes.
    changed = webhook_body(id="ord-live", status="picking", picking_at="2017-09-12T18:55:00+04:30")
    assert (await http.post(receiver_path(merchant), json=changed)).status_code == 202
    await inbox_drained(redis)
    event = await recv(bystander)
    assert event["type"] == "event" and event["event"]["data"]["status"] == "at_pickup"
    await bystander.close()
    async with await subscribed(hub_server, tracking_token):
        pass


async def test_hostile_frames_on_the_pusher_endpoint_get_pusher_errors_and_binary_a_1003(
    hub_server: ServerThread, tracking_token: str
) -> None:
    async with connect(ws_url(hub_server, "/app/hub?protocol=7"), open_timeout=TIMEOUT_S) as ws:
        assert (await recv(ws))["event"] == "pusher:connection_established"
        hostile = [
            DEEP_FRAME,
            '{"event": "pusher:subscribe", "data": {"channel": "shipment-\\ud800"}}',
            '{"event": "pusher:subscribe", "data": {"channel": "shipment-' + "9" * 300 + '"}}',
            '{"event": "pusher:subscribe", "data": {"channel": ' + "9" * 300 + "}}",
        ]
        for frame in hostile:
            await ws.send(frame)
            error = await recv(ws)
            assert error["event"] == "pusher:error", error
        # Still open and serving: a good subscription succeeds.
        channel = f"shipment-{tracking_token}"
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert (await recv(ws))["event"] == "pusher_internal:subscription_succeeded"
        await ws.send(b"\x00binary")
        with pytest.raises(ConnectionClosed):
            while True:
                await recv(ws)
        assert ws.close_code == 1003
