"""``hub normalizer``: accepted payloads become events once each, whatever happens to a normalizer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.ingest import inbox
from hub.ingest.normalizer import Normalizer
from hub.ingest.payload import Payload
from hub.model.observation import Channel
from hub.registry import merchants
from hub.settings import Settings
from tests.conftest import inbox_drained
from tests.test_alopeyk_receiver import webhook_body


def payload(merchant_id: str, body: Any) -> Payload:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Payload("alopeyk", "webhook", raw, Channel.WEBHOOK, merchant_id=merchant_id, register=True)


async def statuses(redis: Redis) -> dict[str, list[str]]:
    """Each order's published statuses, in stream order."""
    found: dict[str, list[str]] = {}
    for _, fields in await redis.xrange(keys.EVENTS):
        event = json.loads(fields["event"])
        if event["type"] == "shipment.status_changed":
            found.setdefault(event["data"]["provider_ref"], []).append(event["data"]["status"])
    return found


async def test_a_batch_becomes_events_in_order_and_bad_payloads_become_dead_letters(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    box = inbox.Inbox(redis)
    for order in (1, 2):
        await box.add(
            payload(merchant.id, webhook_body(id=order, status="new", launched_at=None, accepted_at=None))
        )
        await box.add(payload(merchant.id, webhook_body(id=order)))
    await box.add(payload(merchant.id, webhook_body(id=3, accepted_at="12 o'clock")))
    await redis.xadd(keys.INBOX, {"written": "by someone else"})

    normalizer = Normalizer(redis, settings)
    await normalizer.consumer.ensure_group()
    await normalizer.handle(await normalizer.consumer.read(block_ms=100))
    await normalizer.ingestor.close()

    assert await statuses(redis) == {
        "1": ["pending", "searching_courier", "courier_assigned"],
        "2": ["pending", "searching_courier", "courier_assigned"],
    }
    reasons = [fields["reason"] for _, fields in await redis.xrange(keys.DEADLETTER)]
    assert len(reasons) == 2 and "unreadable time" in reasons[1] and "holds no payloads" in reasons[0]
    assert await redis.xlen(keys.INBOX) == 0


async def test_handled_entries_leave_the_inbox_after_redis_forgets_its_scripts(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    normalizer = Normalizer(redis, settings)
    await normalizer.consumer.ensure_group()
    for order in (1, 2):
        await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=order)))
        await redis.script_flush()  # a restarted or failed-over Redis
        await normalizer.handle(await normalizer.consumer.read(block_ms=100))
    await normalizer.ingestor.close()

    assert set(await statuses(redis)) == {"1", "2"}
    assert await redis.xlen(keys.INBOX) == 0
    assert (await redis.xpending(keys.INBOX, keys.INBOX_GROUP))["pending"] == 0


async def test_a_batch_left_by_a_stopped_normalizer_is_taken_over_once(
    redis: Redis, settings: Settings
) -> None:
    merchant = (await merchants.create(redis, "Shop")).merchant
    for order in range(5):
        await inbox.Inbox(redis).add(payload(merchant.id, webhook_body(id=order)))
    gone = Normalizer(redis, settings.replace(inbox_reclaim_idle_ms=50), name="gone")
    await gone.consumer.ensure_group()
    assert len(await gone.consumer.read(block_ms=100)) == 5  # read, then the process died
    await gone.ingestor.close()

    survivor = Normalizer(redis, settings.replace(inbox_reclaim_idle_ms=50), name="survivor")
    stop = asyncio.Event()
    running = asyncio.create_task(survivor.run(stop))
    try:
        await inbox_drained(redis)
    finally:
        stop.set()
        await running
    assert sorted(await statuses(redis)) == ["0", "1", "2", "3", "4"]
    assert await redis.xlen(keys.EVENTS) == 5 * 4  # each order once: 3 statuses and a position
