"""`hub pusher` against the emulator: events triggered with the real `pusher` library."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pusher
from redis.asyncio import Redis

from hub import keys
from hub.receive.hld_channels.listener import Listener
from hub.settings import Settings
from tests.pusher.conftest import (
    hub_settings,
    location_event,
    register,
    status_event,
    stream_events,
    subscribed,
    trigger,
)
from tests.servers import ServerThread, eventually


async def test_status_changes_and_positions_of_many_shipments_arrive_once(
    redis: Redis, listener: Listener, control: httpx.AsyncClient, trigger_client: pusher.Pusher
) -> None:
    tokens = await register(redis, 30)
    await eventually(lambda: _all_subscribed(control, tokens), "every channel subscribed")
    events = []
    for token in tokens:
        events.append(status_event(token, 2, "2026-04-04T10:33:00Z"))
        events.append(location_event(token, 19.01, 72.83, "2026-04-04T10:34:00Z"))
        events.append(location_event(token, 19.02, 72.84, "2026-04-04T10:35:00Z"))
    await trigger(trigger_client, events)

    await eventually(lambda: _has_count(redis, 90), "90 normalized events")
    appended = await stream_events(redis)
    assert len({e["id"] for e in appended}) == 90
    per_shipment = Counter((e["data"]["provider_ref"], e["type"]) for e in appended)
    for token in tokens:
        assert per_shipment[(token, "shipment.status_changed")] == 1
        assert per_shipment[(token, "shipment.location_updated")] == 2
    assert {e["data"]["channel"] for e in appended} == {"pusher"}
    assert {e["data"]["status"] for e in appended if e["type"] == "shipment.status_changed"} == {
        "courier_assigned"
    }


async def test_events_triggered_while_disconnected_are_recovered_without_duplicates(
    redis: Redis, listener: Listener, control: httpx.AsyncClient, trigger_client: pusher.Pusher
) -> None:
    tokens = await register(redis, 5)
    await eventually(lambda: _all_subscribed(control, tokens), "every channel subscribed")
    await trigger(trigger_client, [status_event(t, 2, "2026-04-04T10:33:00Z") for t in tokens])
    await eventually(lambda: _has_count(redis, 5), "the first status of every shipment")

    await control.post("/_emulator/outage", json={"on": True})
    await eventually(lambda: _none_connected(listener), "the hub to notice the connection is gone")
    missed = [status_event(t, 3, "2026-04-04T10:48:00Z") for t in tokens]
    missed += [location_event(t, 19.05, 72.85, "2026-04-04T10:49:00Z") for t in tokens]
    await trigger(trigger_client, missed)
    await control.post("/_emulator/outage", json={"on": False})

    async def recovered() -> bool:
        statuses = [e for e in await stream_events(redis) if e["type"] == "shipment.status_changed"]
        return len(statuses) >= 10

    await eventually(recovered, "the statuses missed during the outage")
    appended = await stream_events(redis)
    statuses = Counter(
        (e["data"]["provider_ref"], e["data"]["provider_status"]["code"])
        for e in appended
        if e["type"] == "shipment.status_changed"
    )
    assert statuses == Counter({(t, code): 1 for t in tokens for code in (2, 3)})
    assert len({e["id"] for e in appended}) == len(appended)
    for token in tokens:
        state = await redis.hgetall(keys.shipment(await redis.get(keys.provider_ref("hld", token))))
        assert state["status"] == "picked_up"
        assert '"lat": 19.05' in state["location"]


async def test_a_new_registration_is_subscribed_and_a_delivered_one_left(
    redis: Redis, listener: Listener, control: httpx.AsyncClient, trigger_client: pusher.Pusher
) -> None:
    await eventually(lambda: _leased(redis), "the worker's lease")
    (token,) = await register(redis, 1, prefix="new")
    await eventually(lambda: _all_subscribed(control, [token]), "the new shipment's channel", timeout_s=5)

    await trigger(trigger_client, [status_event(token, 4, "2026-04-04T11:10:00Z")])

    async def left() -> bool:
        return f"hld.order.{token}" not in await subscribed(control) and not await redis.hlen(
            keys.active("hld")
        )

    await eventually(left, "the delivered shipment's channel to be left")
    (delivered,) = await stream_events(redis)
    assert delivered["data"]["status"] == "delivered"


async def test_positions_in_a_burst_are_coalesced_and_no_status_is_dropped(
    redis: Redis,
    settings: Settings,
    control: httpx.AsyncClient,
    trigger_client: pusher.Pusher,
    emulator: ServerThread,
) -> None:
    running = Listener(redis, hub_settings(settings, emulator.url, pusher_coalesce_ms=800))
    task = asyncio.create_task(running.run())
    try:
        (token,) = await register(redis, 1, prefix="burst")
        await eventually(lambda: _all_subscribed(control, [token]), "the channel")
        burst = [status_event(token, 2, "2026-04-04T10:33:00Z")]
        burst += [
            location_event(token, 19.0 + i / 1000, 72.8, f"2026-04-04T10:40:{i:02d}Z") for i in range(30)
        ]
        burst += [status_event(token, 3, "2026-04-04T10:48:00Z")]
        await trigger(trigger_client, burst)

        async def settled() -> bool:
            locations = [e for e in await stream_events(redis) if e["type"] == "shipment.location_updated"]
            return any(e["time"] == "2026-04-04T10:40:29.000Z" for e in locations)

        await eventually(settled, "the latest position of the burst")
        appended = await stream_events(redis)
        codes = [
            e["data"]["provider_status"]["code"] for e in appended if e["type"] == "shipment.status_changed"
        ]
        locations = [e for e in appended if e["type"] == "shipment.location_updated"]
        assert sorted(codes) == [2, 3]
        assert 1 <= len(locations) < 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _all_subscribed(control: httpx.AsyncClient, tokens: list[str]) -> bool:
    return sorted(await subscribed(control)) == sorted(f"hld.order.{t}" for t in tokens)


async def _has_count(redis: Redis, count: int) -> bool:
    return bool(await redis.xlen(keys.EVENTS) >= count)


async def _none_connected(listener: Listener) -> bool:
    return all(c.socket_id is None for c in listener.connections)


async def _leased(redis: Redis) -> bool:
    return bool(await redis.zcard(keys.PUSHER_WORKERS))
