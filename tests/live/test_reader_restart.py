"""The fan-out's stream reader (its own raw connection, hub/live/stream_tail.py) outlives a Redis restart."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.asyncio.client import connect

from hub.dev.embedded import EmbeddedRedis
from hub.registry import merchants, shipments
from hub.settings import Settings
from hub.streams.append import Store
from tests.live.conftest import hub_process, position

FRAME_TIMEOUT_S = 20.0


async def append_when_up(url: str, event: dict[str, Any]) -> None:
    """Append ``event`` as the pipeline does, retrying while Redis comes back (bounded)."""
    deadline = time.monotonic() + FRAME_TIMEOUT_S
    while True:
        redis = Redis.from_url(url, decode_responses=True)
        try:
            await Store(redis, Settings.from_env().replace(redis_url=url)).append([event])  # type: ignore[list-item]
            return
        except (RedisConnectionError, OSError):
            assert time.monotonic() < deadline, "Redis did not come back"
            await asyncio.sleep(0.2)  # Redis is starting; bounded by the deadline
        finally:
            await redis.aclose()


async def next_frame(ws: Any, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind`` (skipping keep-alive pings and the like)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_S))
        if frame["type"] == kind:
            return frame


async def test_a_subscribed_socket_gets_events_appended_after_redis_restarts(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "valkey").start()
    try:
        redis = Redis.from_url(server.url, decode_responses=True)
        created = await merchants.create(redis, "Restart Shop")
        shipment, _ = await shipments.register(redis, created.merchant.id, "alopeyk", "restart-1")
        await redis.aclose()
        with hub_process(server.url) as hub:
            async with connect(f"{hub.ws_url}/v1/live", open_timeout=FRAME_TIMEOUT_S) as ws:
                await ws.send(json.dumps({"type": "subscribe", "tracking_token": shipment.tracking_token}))
                await next_frame(ws, "snapshot")  # subscribed: what is appended from now on is live
                await append_when_up(server.url, position(shipment, 1))
                assert (await next_frame(ws, "event"))["event"]["data"]["location"]["lat"] == 35.001

                server.stop()  # the reader's connection drops mid-XREAD
                server.start()  # same port, same append-only file
                await append_when_up(server.url, position(shipment, 2))

                after = await next_frame(ws, "event")
                assert after["event"]["data"]["location"]["lat"] == 35.002
                assert after["event"]["sequence"] == 2
    finally:
        server.stop()
