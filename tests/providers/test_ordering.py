"""Ordering a status HLD does not date, against what its Pusher channel dated (real Redis).

Every payload is the document's own example (tracking response, ``hld.order.status_changed``)
with only the status, its text and the times changed. See docs/ordering.md for the rule.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.ingest.payload import Ingested
from hub.ingest.pipeline import Ingestor
from hub.model.event import schema
from hub.model.observation import Channel
from hub.registry import shipments

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hld"
TOKEN = "HLD67890ABCDEF"
TEXTS = {1: "OrderPlaced", 2: "ExecutiveAssigned", 3: "PickedUp", 4: "Delivered", 10: "ExecutiveRejected"}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def tracking(status: int, updates: list[tuple[int, str]] | None = None, **fields: Any) -> bytes:
    """The document's tracking example showing ``status``; ``updates`` replaces real_time_updates."""
    payload = load("tracking_on_the_way.json")
    payload["data"].update(status=status, status_text=TEXTS.get(status, "On the Way"), **fields)
    if updates is not None:
        payload["data"]["real_time_updates"] = [
            {
                "status": code,
                "timestamp": f"2026-04-04T{hhmm}:00Z",
                "location": {"lat": 18.9488, "lng": 72.831},
            }
            for code, hhmm in updates
        ]
    return json.dumps(payload).encode()


def pushed(status: int, hhmm: str) -> bytes:
    """The document's ``hld.order.status_changed`` example for ``status`` at ``hhmm``."""
    payload = load("pusher_order_status_changed.json")
    payload["order"].update(status=status, status_text=TEXTS.get(status, "On the Way"))
    payload["tracking_entry"] = {"status": status, "timestamp": f"2026-04-04T{hhmm}:00Z"}
    payload["timestamp"] = f"2026-04-04T{hhmm}:00Z"
    return json.dumps(payload).encode()


@pytest.fixture
async def shipment(redis: Redis) -> shipments.Shipment:
    registered, _ = await shipments.register(redis, "mer_1", "hld", TOKEN)
    return registered


class Hld:
    def __init__(self, ingestor: Ingestor, redis: Redis, shipment: shipments.Shipment) -> None:
        self.ingestor, self.redis, self.shipment = ingestor, redis, shipment

    async def push(self, status: int, hhmm: str) -> Ingested:
        return await self.ingestor.ingest_raw(
            "hld", "pusher:hld.order.status_changed", pushed(status, hhmm), Channel.PUSHER, ref=TOKEN
        )

    async def poll(self, body: bytes) -> Ingested:
        return await self.ingestor.ingest_raw(
            "hld", "tracking", body, Channel.POLL, ref=TOKEN, shipment=self.shipment
        )

    async def state(self) -> tuple[str | None, str | None]:
        current = await shipments.get(self.redis, self.shipment.id)
        code = await self.redis.hget(keys.shipment(self.shipment.id), "status_code")
        return current.status, code


@pytest.fixture
def hld(ingestor: Ingestor, redis: Redis, shipment: shipments.Shipment) -> Hld:
    return Hld(ingestor, redis, shipment)


def published_codes(ingested: Ingested) -> list[tuple[object, bool]]:
    """(provider code, stale) of each status change a payload published."""
    return [
        (event["data"]["provider_status"]["code"], event["data"]["stale"])
        for a in ingested.published
        if (event := a.event) and event["type"] == "shipment.status_changed"
    ]


async def test_delivered_seen_by_a_poll_after_a_pushed_25_moves_the_shipment_once(hld: Hld) -> None:
    await hld.push(25, "10:50")

    first = await hld.poll(tracking(4))  # completed_at null: HLD does not date the 4
    again = await hld.poll(tracking(4))

    assert (4, False) in published_codes(first), "the undated 4 must move the shipment, not be stale"
    assert await hld.state() == ("delivered", "4")
    [delivered_at] = [
        event["time"]
        for a in first.published
        if (event := a.event) and event["type"] == "shipment.status_changed"
        if event["data"]["provider_status"]["code"] == 4
    ]
    assert datetime.fromisoformat(delivered_at) > datetime.fromisoformat("2026-04-04T10:50:00+00:00")
    assert again.published == [], "the same poll again is the same change: nothing new"


async def test_the_same_delivery_pushed_after_the_poll_saw_it_is_one_event(hld: Hld) -> None:
    await hld.push(25, "10:50")
    await hld.poll(tracking(4))

    late_push = await hld.push(4, "10:58")

    assert late_push.published == []
    assert await hld.state() == ("delivered", "4")


async def test_a_late_dated_25_never_moves_an_undated_delivery_back(hld: Hld) -> None:
    await hld.push(25, "10:50")
    await hld.poll(tracking(4))

    late = await hld.push(25, "10:55")  # dated after everything the poll knew, but 25 cannot follow 4

    assert published_codes(late) in ([], [(25, True)])
    assert await hld.state() == ("delivered", "4")


async def test_the_final_code_pushed_after_an_undated_delivery_applies(hld: Hld) -> None:
    await hld.push(25, "10:50")
    await hld.poll(tracking(4))

    final = await hld.push(11, "10:59")

    assert published_codes(final) == [(11, False)]
    assert await hld.state() == ("delivered", "11")


async def test_an_undated_25_polled_after_a_pushed_4_does_not_move_it_back(hld: Hld) -> None:
    await hld.push(4, "10:58")

    first = await hld.poll(tracking(25))  # the document's example: 25 undated, pickup at 10:48
    again = await hld.poll(tracking(25))

    assert (25, False) not in published_codes(first)
    assert await hld.state() == ("delivered", "4")
    assert again.published == []


async def test_rejected_then_reassigned_ends_courier_assigned_each_change_once(hld: Hld) -> None:
    assigned = [(1, "10:30"), (2, "10:33")]
    rejected = [*assigned, (10, "10:36")]
    none = {"pickup_completed_at": None, "executive": None}

    first = await hld.poll(tracking(2, assigned, **none))
    second = await hld.poll(tracking(10, rejected, **none))
    third = await hld.poll(tracking(2, rejected, **none))  # reassigned: 2 is current again, undated
    fourth = await hld.poll(tracking(2, rejected, **none))

    assert [c for c, _ in published_codes(first)] == [1, 2]
    assert published_codes(second) == [(10, False)]
    assert published_codes(third) == [(2, False)]
    assert fourth.published == []
    assert await hld.state() == ("courier_assigned", "2")
    history = await shipments.history(hld.redis, hld.shipment.id)
    assert len({event["id"] for event in history}) == len(history)


async def test_an_undated_status_the_flow_cannot_place_after_an_end_is_stale(hld: Hld) -> None:
    await hld.push(11, "11:05")

    late = await hld.poll(tracking(13, [(1, "10:30")], pickup_completed_at=None, assigned_at=None))

    assert (13, False) not in published_codes(late)
    assert await hld.state() == ("delivered", "11")


async def test_a_push_that_dates_an_undated_delivery_orders_later_events_by_that_time(hld: Hld) -> None:
    await hld.push(25, "10:50")
    await hld.poll(tracking(4))  # undated 4
    await hld.push(4, "10:58")  # the same change, dated: a duplicate, but now the 4 has a time

    late = await hld.push(11, "10:57")  # older than the dated 4: it cannot be the newest status

    assert published_codes(late) == [(11, True)]
    assert await hld.state() == ("delivered", "4")


async def test_undated_events_are_valid_events(hld: Hld) -> None:
    await hld.push(25, "10:50")
    polled = await hld.poll(tracking(4))

    for appended in polled.published:
        event = appended.event
        assert event is not None and "_ordering" not in event
        jsonschema.validate(event, schema())
