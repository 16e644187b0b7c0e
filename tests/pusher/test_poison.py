"""`hub pusher`: an HLD event the hub cannot take is dead-lettered; the worker and its shard go on."""

from __future__ import annotations

import asyncio

import httpx
import pusher
from redis.asyncio import Redis

from hub import keys
from hub.ingest import deadletter
from hub.receive.hld_channels.listener import Listener
from hub.settings import Settings
from tests.pusher.conftest import hub_settings, register, status_event, stream_events, subscribed, trigger
from tests.servers import ServerThread, eventually


async def test_an_event_with_a_lone_surrogate_is_dead_lettered_and_the_next_ones_arrive(
    redis: Redis,
    settings: Settings,
    emulator: ServerThread,
    control: httpx.AsyncClient,
    trigger_client: pusher.Pusher,
) -> None:
    listener = Listener(redis, hub_settings(settings, emulator.url, poison_attempts_max=2))
    running = asyncio.create_task(listener.run())
    try:
        tokens = await register(redis, 2)
        channels = sorted(f"hld.order.{t}" for t in tokens)
        await eventually(lambda: _subscribed_to(control, channels), "both channels subscribed")
        poison = status_event(tokens[0], 2, "2026-04-04T10:33:00Z")
        poison["data"]["order"]["status_text"] = "assigned \ud800"  # JSON-escaped on the wire
        await trigger(
            trigger_client,
            [
                poison,
                status_event(tokens[0], 3, "2026-04-04T10:48:00Z"),  # same shard, after the poison
                status_event(tokens[1], 2, "2026-04-04T10:33:00Z"),
            ],
        )

        await eventually(lambda: _count(redis, keys.EVENTS, 2), "the two good events")
        await eventually(lambda: _count(redis, keys.DEADLETTER, 1), "the poison's dead letter")
        assert not running.done(), "the listener stopped on one event"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    codes = sorted(
        (e["data"]["provider_ref"], e["data"]["provider_status"]["code"]) for e in await stream_events(redis)
    )
    assert codes == [(tokens[0], 3), (tokens[1], 2)]
    [letter] = await deadletter.recent(redis)
    assert letter.ref == tokens[0] and letter.kind == "pusher:hld.order.status_changed"
    # The guarded reader refuses it at once (a typed refusal, no retries), kept as received:
    # the surrogate as surrogatepass bytes, which are not UTF-8.
    assert letter.reason.startswith("body refused (invalid_utf8)")
    assert "assigned \ud800" in letter.body.decode("utf-8", "surrogatepass")


async def _subscribed_to(control: httpx.AsyncClient, channels: list[str]) -> bool:
    return sorted(await subscribed(control)) == channels


async def _count(redis: Redis, stream: str, count: int) -> bool:
    return bool(await redis.xlen(stream) >= count)
