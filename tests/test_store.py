"""Appending to the streams: exactly once, gap-free sequences, status never moves backwards."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.model.event import ShipmentRef, build, schema
from hub.model.observation import Channel, EventType, Location, Observation, ProviderStatus
from hub.model.status import Status
from hub.model.times import rfc3339
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.append import Store, _args

T0 = datetime(2026, 4, 4, 10, 30, tzinfo=UTC)


def status_event(ref: ShipmentRef, code: int, status: Status, minutes: int) -> dict[str, Any]:
    observation = Observation(
        type=EventType.STATUS_CHANGED,
        provider="hld",
        provider_ref=ref.provider_ref,
        time=T0 + timedelta(minutes=minutes),
        status=status,
        provider_status=ProviderStatus(code, None),
    )
    return build(observation, ref, Channel.POLL, rfc3339(datetime.now(UTC)))


def position_event(ref: ShipmentRef, lat: float, minutes: int) -> dict[str, Any]:
    observation = Observation(
        type=EventType.LOCATION_UPDATED,
        provider="hld",
        provider_ref=ref.provider_ref,
        time=T0 + timedelta(minutes=minutes),
        location=Location(lat, 72.83),
    )
    return build(observation, ref, Channel.PUSHER, rfc3339(datetime.now(UTC)))


@pytest.fixture
async def shipment(redis: Redis) -> ShipmentRef:
    registered, _ = await shipments.register(redis, "mer_1", "hld", "HLD67890ABCDEF")
    return registered.ref


async def global_events(redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(keys.EVENTS)]


async def test_events_get_gap_free_sequences_and_validate_against_the_schema(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    store = Store(redis, settings)
    appended = await store.append(
        [
            status_event(shipment, 1, Status.PENDING, 0),
            position_event(shipment, 18.95, 1),
            status_event(shipment, 2, Status.COURIER_ASSIGNED, 3),
        ]
    )
    assert [a.outcome for a in appended] == ["new", "new", "new"]
    published = await global_events(redis)
    assert [e["sequence"] for e in published] == [1, 2, 3]
    for event in published:
        jsonschema.validate(event, schema())
    assert published[2]["data"]["previous_status"] == "pending"
    assert published[0]["data"]["previous_status"] is None


async def test_the_same_change_twice_is_recorded_once(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    store = Store(redis, settings)
    first = status_event(shipment, 3, Status.PICKED_UP, 5)
    again = status_event(shipment, 3, Status.PICKED_UP, 5)  # a poll and a push of the same change
    assert first["id"] == again["id"]
    assert [a.outcome for a in await store.append([first])] == ["new"]
    assert [a.outcome for a in await store.append([again])] == ["duplicate"]
    assert len(await global_events(redis)) == 1
    assert len(await shipments.history(redis, shipment.id)) == 1


async def test_appends_go_on_after_redis_forgets_its_scripts(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    """A restarted or failed-over Redis has no scripts loaded: one shipment's write (a lone
    ``EVALSHA``) and a write for several shipments (a pipeline) both load it again."""
    other = (await shipments.register(redis, "mer_1", "hld", "HLD-OTHER"))[0].ref
    store = Store(redis, settings)
    assert [a.outcome for a in await store.append([status_event(shipment, 1, Status.PENDING, 0)])] == ["new"]
    await redis.script_flush()
    assert [a.outcome for a in await store.append([status_event(shipment, 3, Status.PICKED_UP, 5)])] == [
        "new"
    ]
    await redis.script_flush()
    both = [status_event(shipment, 4, Status.IN_TRANSIT, 9), status_event(other, 3, Status.PICKED_UP, 9)]
    assert [a.outcome for a in await store.append(both)] == ["new", "new"]
    assert [e["data"]["status"] for e in await global_events(redis)] == [
        "pending",
        "picked_up",
        "in_transit",
        "picked_up",
    ]


async def test_concurrent_writers_of_the_same_change_append_it_once(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    """Twenty independent stores (as in twenty processes) race to append the same ten changes."""
    changes = [status_event(shipment, code, Status.IN_TRANSIT, code) for code in range(10)]
    stores = [
        Store(Redis.from_url(settings.redis_url or "", decode_responses=True), settings) for _ in range(20)
    ]
    results = await asyncio.gather(*(store.append(list(changes)) for store in stores))
    for store in stores:
        await store.redis.aclose()
    outcomes = [a.outcome for result in results for a in result]
    assert outcomes.count("new") == 10
    published = await global_events(redis)
    assert sorted(e["id"] for e in published) == sorted(c["id"] for c in changes)
    history = await shipments.history(redis, shipment.id)
    assert [e["sequence"] for e in history] == list(range(1, 11))


async def test_a_late_event_is_recorded_but_never_moves_status_backwards(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    store = Store(redis, settings)
    await store.append([status_event(shipment, 1, Status.PENDING, 0)])
    await store.append([status_event(shipment, 3, Status.PICKED_UP, 20)])
    [late] = await store.append([status_event(shipment, 2, Status.COURIER_ASSIGNED, 10)])  # arrives last
    assert late.outcome == "new"
    assert late.event is not None
    assert late.event["data"]["stale"] is True
    assert late.event["data"]["previous_status"] == "picked_up"
    current = await shipments.get(redis, shipment.id)
    assert current.status == "picked_up"
    [after] = await store.append([status_event(shipment, 4, Status.DELIVERED, 30)])
    assert after.event is not None
    assert after.event["data"]["previous_status"] == "picked_up"  # truthful: the late event changed nothing
    assert (await shipments.get(redis, shipment.id)).status == "delivered"


async def test_an_older_position_does_not_replace_the_newer_one(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    store = Store(redis, settings)
    await store.append([position_event(shipment, 19.01, 10)])
    await store.append([position_event(shipment, 18.95, 5)])
    current = await shipments.get(redis, shipment.id)
    assert current.state["location"] == {"lat": 19.01, "lng": 72.83}


async def test_an_append_interrupted_before_the_global_stream_is_published_by_the_next_sighting(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    """A process that died after recording the history but before hub:events loses nothing."""
    store = Store(redis, settings.replace(outbox_lease_ms=0))
    change = status_event(shipment, 2, Status.COURIER_ASSIGNED, 1)
    # Run only the first half of an append, as a crashed process would have.
    # (as on a cluster: the script records and leaves publishing to the caller)
    await store._script(
        keys=keys.shipment_keys(shipment.id),
        args=[0, 0, shipment.id, "MAXLEN", 100, "MAXLEN", 100, shipment.merchant_id, "hld", *_args(change)],
    )
    assert await global_events(redis) == []
    [retry] = await store.append([change])
    assert retry.outcome == "republish"
    [published] = await global_events(redis)
    assert published["id"] == change["id"] and published["sequence"] == 1
    [own] = await redis.xrange(keys.merchant_events(shipment.merchant_id))  # the merchant's stream too
    assert json.loads(own[1]["event"]) == published
    assert await redis.zcard(keys.outbox(shipment.id)) == 0


async def test_global_stream_is_trimmed_to_its_configured_length(
    redis: Redis, settings: Settings, shipment: ShipmentRef
) -> None:
    store = Store(redis, settings.replace(stream_maxlen=10))
    for start in range(0, 300, 100):
        await store.append([position_event(shipment, 18 + i / 1000, start + i) for i in range(100)])
    assert await redis.xlen(keys.EVENTS) < 300
    assert len(await shipments.history(redis, shipment.id)) == 300  # a shipment's own history is whole
