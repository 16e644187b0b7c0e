"""ALOD answers ingested into the real store: one change is one event, its final words are kept.

Payloads are the document's tracking example (made valid JSON), base64-wrapped as ALOD sends them.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.ingest.payload import Ingested
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alod"
BOOKING = "625fe47c6b8812713f16c52a"


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "tracking_alod.json").read_text())
    return loaded


async def poll(ingestor: Ingestor, payload: dict[str, Any]) -> Ingested:
    body = base64.b64encode(json.dumps(payload).encode())
    return await ingestor.ingest_raw("alod", "tracking", body, Channel.POLL, ref=BOOKING)


async def published(redis: Redis) -> list[dict[str, Any]]:
    """Every event on ``hub:events``, oldest first."""
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(keys.EVENTS)]


async def test_delivered_said_by_booking_status_before_the_trace_is_published_once(
    redis: Redis, ingestor: Ingestor
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alod", BOOKING)
    early = example()  # booking_status "delivered"; the trace has not caught up yet
    early["booking_status_details"] = early["booking_status_details"][1:]
    before = datetime.now(UTC).replace(microsecond=0)  # events carry milliseconds

    await poll(ingestor, early)
    await poll(ingestor, early)  # the confirming poll asks again
    await poll(ingestor, example())  # then the trace says "Delivered" too

    delivered = [e for e in await published(redis) if e["data"]["status"] == "delivered"]
    assert len(delivered) == 1, f"delivered published {len(delivered)} times"
    assert delivered[0]["data"]["provider_status"] == {"code": "Delivered", "text": "delivered"}
    # booking_status has no time: dated when the hub learnt it, never before the trace it follows.
    assert before <= datetime.fromisoformat(delivered[0]["time"]) <= datetime.now(UTC)
    assert (await shipments.get(redis, shipment.id)).status == "delivered"


async def test_a_status_that_genuinely_comes_back_is_still_published(
    redis: Redis, ingestor: Ingestor
) -> None:
    await shipments.register(redis, "m1", "alod", BOOKING)
    payload = example()
    details = payload["booking_status_details"][2:]  # Arrived, Sent to Carrier, Submitted (newest first)
    resent = {
        "_id": "6257dcb923771e17733a57aa",
        "status": "Sent to Carrier",
        "created": "2022-04-14T08:35:05Z",
    }
    payload.update(booking_status="placed", booking_status_details=[resent, *details])

    await poll(ingestor, payload)
    await poll(ingestor, payload)

    codes = [e["data"]["provider_status"]["code"] for e in await published(redis)]
    assert codes == [
        "Shipment Submitted",
        "Sent to Carrier",
        "Arrived to Collect the Shipment",
        "Sent to Carrier",
    ]


async def test_a_booking_that_timed_out_without_a_trace_expires(redis: Redis, ingestor: Ingestor) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alod", BOOKING)
    timed_out = {**example(), "booking_status": "timeout", "booking_status_details": []}

    first = await poll(ingestor, timed_out)
    again = await poll(ingestor, timed_out)

    assert [a.outcome for a in first.appended] == ["new"]
    assert [a.outcome for a in again.appended] == ["duplicate"]
    assert (await shipments.get(redis, shipment.id)).status == "expired"
    [event] = await published(redis)
    assert event["data"]["provider_status"] == {"code": "timeout", "text": "timeout"}


async def test_an_unknown_booking_status_word_is_kept_and_counted_once(
    redis: Redis, ingestor: Ingestor
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alod", BOOKING)
    payload = {**example(), "booking_status": "Returned_To_Sender"}

    await poll(ingestor, payload)
    await poll(ingestor, payload)

    last = (await published(redis))[-1]
    assert (last["data"]["status"], last["data"]["provider_status"]) == (
        "unknown",
        {"code": "Returned_To_Sender", "text": "Returned_To_Sender"},
    )
    assert await redis.hgetall(keys.unknown_codes()) == {"alod:Returned_To_Sender": "1"}
    assert (await shipments.get(redis, shipment.id)).status == "unknown"
