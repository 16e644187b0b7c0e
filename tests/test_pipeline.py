"""Every provider's example payloads through the whole pipeline: schema-valid, exactly once."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.ingest.payload import Rejected
from hub.ingest.pipeline import Ingestor
from hub.model.event import schema
from hub.model.observation import Channel
from hub.registry import shipments

FIXTURES = Path(__file__).parent / "fixtures"

# (provider, kind, fixture, ref the caller asked about, whether the wire body is base64)
EXAMPLES = [
    ("alopeyk", "webhook", "alopeyk/webhook_accepted.json", "263197", False),
    ("alopeyk", "order", "alopeyk/order_picking.json", "14756", False),
    ("hld", "tracking", "hld/tracking_on_the_way.json", "HLD67890ABCDEF", False),
    (
        "hld",
        "pusher:hld.order.status_changed",
        "hld/pusher_order_status_changed.json",
        "HLD67890ABCDEF",
        False,
    ),
    (
        "hld",
        "pusher:executive.location_updated",
        "hld/pusher_executive_location_updated.json",
        "HLD67890ABCDEF",
        False,
    ),
    ("alclient", "tracking", "alclient/tracking_assumed_shape.json", "10245", False),
    ("alod", "tracking", "alod/tracking_alod.json", "625fe47c6b8812713f16c52a", True),
    ("alod", "tracking", "alod/tracking_ups.json", "625fe47c6b8812713f16c52b", True),
    ("all24", "tracking", "all24/tracking.json", "HSBY37H7", False),
]


def wire_body(fixture: str, base64_wrapped: bool) -> bytes:
    raw = (FIXTURES / fixture).read_bytes()
    return base64.b64encode(raw) if base64_wrapped else raw


async def published(redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(keys.EVENTS)]


@pytest.mark.parametrize(
    ("provider", "kind", "fixture", "ref", "b64"), EXAMPLES, ids=[e[2] for e in EXAMPLES]
)
async def test_every_example_becomes_schema_valid_events_once(
    redis: Redis, ingestor: Ingestor, provider: str, kind: str, fixture: str, ref: str, b64: bool
) -> None:
    await shipments.register(redis, "mer_1", provider, ref, "ORDER-1")
    first = await ingestor.ingest_raw(provider, kind, wire_body(fixture, b64), Channel.POLL, ref=ref)
    assert first.published, "an example payload must yield events"
    again = await ingestor.ingest_raw(provider, kind, wire_body(fixture, b64), Channel.POLL, ref=ref)
    assert again.published == []
    stream = await published(redis)
    assert len(stream) == len(first.published)
    for event in stream:
        jsonschema.validate(event, schema())
        assert event["source"] == f"/providers/{provider}" and event["data"]["provider_ref"] == ref


async def test_a_status_seen_by_poll_and_by_push_is_published_once(redis: Redis, ingestor: Ingestor) -> None:
    """HLD's tracking response dates the current status 25 by a guess; the Pusher event has its own time."""
    token = "HLD67890ABCDEF"
    await shipments.register(redis, "mer_1", "hld", token)
    await ingestor.ingest_raw(
        "hld", "tracking", wire_body("hld/tracking_on_the_way.json", False), Channel.POLL, ref=token
    )
    pushed = await ingestor.ingest_raw(
        "hld",
        "pusher:hld.order.status_changed",
        wire_body("hld/pusher_order_status_changed.json", False),
        Channel.PUSHER,
        ref=token,
    )
    assert pushed.published == []
    statuses = [
        e["data"]["provider_status"]["code"]
        for e in await published(redis)
        if e["type"] == "shipment.status_changed"
    ]
    assert statuses.count(25) == 1


async def test_an_unknown_status_code_is_published_as_unknown_and_counted(
    redis: Redis, ingestor: Ingestor
) -> None:
    token = "HLD67890ABCDEF"
    await shipments.register(redis, "mer_1", "hld", token)
    body = json.loads((FIXTURES / "hld/pusher_order_status_changed.json").read_text())
    body["order"].update(status=99, status_text="Teleported")
    body["tracking_entry"]["status"] = 99
    result = await ingestor.ingest_raw(
        "hld", "pusher:hld.order.status_changed", json.dumps(body).encode(), Channel.PUSHER, ref=token
    )
    [event] = [a.event for a in result.published]
    assert event is not None
    assert event["data"]["status"] == "unknown"
    assert event["data"]["provider_status"] == {"code": 99, "text": "Teleported"}
    assert await redis.hget(keys.unknown_codes(), "hld:99") == "1"


async def test_a_push_for_an_unregistered_shipment_is_dead_lettered_and_replayable(
    redis: Redis, ingestor: Ingestor
) -> None:
    body = wire_body("hld/pusher_order_status_changed.json", False)
    with pytest.raises(Rejected, match="no shipment is registered") as rejected:
        await ingestor.ingest_raw(
            "hld", "pusher:hld.order.status_changed", body, Channel.PUSHER, ref="HLDUNKNOWN"
        )
    [(entry_id, fields)] = await redis.xrange(keys.DEADLETTER)
    assert entry_id == rejected.value.deadletter_id and fields["ref"] == "HLDUNKNOWN"
    await shipments.register(redis, "mer_1", "hld", "HLDUNKNOWN")
    replayed = await ingestor.ingest_raw(
        "hld", "pusher:hld.order.status_changed", body, Channel.PUSHER, ref="HLDUNKNOWN"
    )
    assert len(replayed.published) == 1
