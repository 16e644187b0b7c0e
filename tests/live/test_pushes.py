"""The fan-out follows ``hub:events`` by the append script's messages, and the stream stays the truth:
an entry nobody published (between published ones, or last) still reaches the sockets, in order,
and a reader Redis refuses the channel reads the stream instead (hub/live/pushes.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hub import keys
from hub.live import pushes
from hub.live.fanout import Fanout, Published, shipment_topic
from hub.registry import merchants, shipments
from hub.settings import Settings
from hub.streams.append import Store
from tests.live.conftest import position

ARRIVAL_TIMEOUT_S = 4 * pushes.TICK_S + 10  # an unpublished last entry waits for the reader's look


class Seen:
    """What one subscriber of the fan-out received: event ids, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, entry: Published) -> None:
        self.ids.append(entry.event_id)
        self._changed.set()

    async def at_least(self, count: int) -> list[str]:
        async def enough() -> None:
            while len(self.ids) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), ARRIVAL_TIMEOUT_S)
        return self.ids


@pytest.fixture
async def shipment(redis: Redis) -> shipments.Shipment:
    created = await merchants.create(redis, "Push Shop")
    found, _ = await shipments.register(redis, created.merchant.id, "alopeyk", "push-1")
    return found


@contextlib.asynccontextmanager
async def following(redis: Redis, shipment: shipments.Shipment, seen: Seen) -> AsyncIterator[Fanout]:
    fanout = Fanout(redis)
    await fanout.start()
    await fanout.subscribe(shipment_topic(shipment.id), seen)
    try:
        yield fanout
    finally:
        await fanout.stop()


def unpublished(event: dict[str, Any]) -> dict[str, str]:
    """An entry as another writer might add it: on the stream, with no message on the channel."""
    return {"event": json.dumps(event), "shipment": event["data"]["shipment_id"]}


async def test_an_entry_nobody_published_between_published_ones_arrives_in_order(
    redis: Redis, settings: Settings, shipment: shipments.Shipment
) -> None:
    seen, store = Seen(), Store(redis, settings)
    events = [position(shipment, n) for n in (1, 2, 3)]
    async with following(redis, shipment, seen):
        await store.append([events[0]])  # type: ignore[list-item]
        assert await seen.at_least(1) == [events[0]["id"]]
        await redis.xadd(keys.EVENTS, unpublished(events[1]))
        await store.append([events[2]])  # type: ignore[list-item]  # its message names the one before

        assert await seen.at_least(3) == [event["id"] for event in events]


async def test_an_unpublished_last_entry_arrives_after_the_readers_look(
    redis: Redis, settings: Settings, shipment: shipments.Shipment
) -> None:
    seen, store = Seen(), Store(redis, settings)
    events = [position(shipment, n) for n in (1, 2)]
    async with following(redis, shipment, seen):
        await store.append([events[0]])  # type: ignore[list-item]
        assert await seen.at_least(1) == [events[0]["id"]]  # the reader follows the channel now
        await redis.xadd(keys.EVENTS, unpublished(events[1]))  # no message comes after it

        assert await seen.at_least(2) == [event["id"] for event in events]


async def test_a_reader_refused_the_channel_reads_the_stream(
    redis: Redis, redis_url: str, settings: Settings, shipment: shipments.Shipment
) -> None:
    await redis.acl_setuser(
        "no-subscribe", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-subscribe"], reset=True,
    )  # fmt: skip
    refused = Redis.from_url(redis_url.replace("redis://", "redis://no-subscribe:pw@"), decode_responses=True)
    seen, store = Seen(), Store(redis, settings)
    events = [position(shipment, n) for n in (1, 2)]
    try:
        async with following(refused, shipment, seen) as fanout:
            for event in events:
                await store.append([event])  # type: ignore[list-item]

            assert await seen.at_least(2) == [event["id"] for event in events]
            assert fanout._pushes is None  # read by XREAD, not waiting for messages that never come
    finally:
        await refused.aclose()
        await redis.acl_deluser("no-subscribe")


async def test_a_message_naming_an_entry_the_stream_lacks_is_dropped_after_one_read(
    redis: Redis, settings: Settings, shipment: shipments.Shipment
) -> None:
    """A stray publish (another tool on the channel, say) costs one read of the stream, not a loop of them."""
    seen, store = Seen(), Store(redis, settings)
    events = [position(shipment, n) for n in (1, 2, 3)]
    async with following(redis, shipment, seen):
        await store.append([events[0]])  # type: ignore[list-item]
        await seen.at_least(1)
        await redis.publish(keys.EVENTS, f"9999999999999-0\n9999999999999-1\n{json.dumps(events[1])}")
        await store.append([events[1]])  # type: ignore[list-item]
        await seen.at_least(2)
        reads_before = await xread_calls(redis)
        await store.append([events[2]])  # type: ignore[list-item]

        assert await seen.at_least(3) == [event["id"] for event in events]
        assert await xread_calls(redis) - reads_before <= 1  # pushed: no read of the stream needed


async def xread_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_xread", {}).get("calls", 0))
