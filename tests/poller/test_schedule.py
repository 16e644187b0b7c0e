"""When shipments are polled: registration, several schedulers, reconciliation, cadence, expiry."""

from __future__ import annotations

import asyncio
import threading
import time

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from hub import keys
from hub.clients import http_client
from hub.registry import shipments
from hub.settings import RateLimit, Settings
from tests.poller.conftest import Emulators, poller_env, status_codes
from tests.poller.drive import drive
from workers import cadence
from workers.poll import EXPIRED_CODE, Poller
from workers.ratelimit import RateLimiter
from workers.scheduler import Scheduler


async def test_registered_shipment_is_due_at_once(redis: Redis) -> None:
    shipment, _ = await shipments.register(redis, "m1", "all24", "HSNEW0001")
    assert await redis.zscore(keys.POLL_DUE, shipment.id) == 0


async def test_two_schedulers_never_enqueue_the_same_poll(
    redis: Redis, redis_url: str, poll_settings: Settings
) -> None:
    ids = [f"shp_{n:05d}" for n in range(3000)]
    await redis.zadd(keys.POLL_DUE, dict.fromkeys(ids, 0))
    connection = SyncRedis.from_url(redis_url)
    schedulers = [Scheduler(poll_settings, connection) for _ in range(2)]
    threads = [threading.Thread(target=lambda s=s: [s.tick() for _ in range(3)]) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    jobs = Queue(poll_settings.poll.queue, connection=connection).get_jobs()
    enqueued = [shipment_id for job in jobs for shipment_id, _ in job.args[0]]
    connection.close()
    assert len(enqueued) == len(ids)
    assert set(enqueued) == set(ids)


async def test_same_history_again_publishes_nothing_and_one_more_entry_publishes_one(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    scripted = emulators.emulator("all24").script("HSSTILL01", step_s=1000)
    shipment, _ = await shipments.register(redis, "m1", "all24", "HSSTILL01")
    await poller.poll_one(shipment.id)
    after_first = await redis.xlen(keys.EVENTS)

    await poller.poll_one(shipment.id)
    assert await redis.xlen(keys.EVENTS) == after_first

    scripted.advance()  # the provider's history gains one entry
    await poller.poll_one(shipment.id)
    assert await redis.xlen(keys.EVENTS) == after_first + 1
    assert await status_codes(redis, shipment.id) == ["050000", "100000"]


async def test_push_provider_is_not_polled_while_its_push_channel_speaks(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "hld", "tok-quiet")

    outcome = await poller.poll_one(shipment.id)

    assert outcome.result == "waiting"
    assert emulators.requests("hld") == []
    due_ms = await redis.zscore(keys.POLL_DUE, shipment.id)
    assert due_ms == shipment.created_ms + poller.poll.reconcile_after_s * 1000


async def test_shipment_without_news_expires_with_an_explicit_event(
    redis: Redis, redis_url: str, emulators: Emulators
) -> None:
    settings = Settings.from_env(poller_env(redis_url, emulators, HUB_POLL_EXPIRE_AFTER_S="1"))
    emulators.emulator("all24").script("HSSTUCK01", step_s=1000)
    shipment, _ = await shipments.register(redis, "m1", "all24", "HSSTUCK01")
    async with http_client(settings) as http:
        poller = Poller(redis, settings, http)
        try:
            outcomes = await drive(poller, redis, timeout_s=30)
        finally:
            await poller.close()

    assert outcomes[-1].result == "expired"
    assert await status_codes(redis, shipment.id) == ["050000", EXPIRED_CODE]
    assert (await shipments.get(redis, shipment.id)).status == "expired"


def test_cadence_is_quick_in_motion_slow_when_idle_and_quick_near_the_eta() -> None:
    poll = Settings.from_env({}).poll
    now_ms = int(time.time() * 1000)
    moving = cadence.interval_s(poll, "hld", now_ms=now_ms, changed_ms=now_ms - 1000, eta_ms=None)
    idle = cadence.interval_s(poll, "all24", now_ms=now_ms, changed_ms=now_ms - 7200_000, eta_ms=None)
    near = cadence.interval_s(
        poll, "all24", now_ms=now_ms, changed_ms=now_ms - 7200_000, eta_ms=now_ms + 60_000
    )
    parcel = cadence.interval_s(poll, "all24", now_ms=now_ms, changed_ms=now_ms - 1000, eta_ms=None)
    assert moving == 30
    assert parcel == 300
    assert idle == 900
    assert near == 60


async def test_a_request_in_flight_keeps_its_rate_limit_slot_until_its_answer_is_back(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    limits = (RateLimit(2, 1),)
    first, second = [await limiter.acquire("all24", "acct", limits, in_flight_ms=30_000) for _ in range(2)]
    assert (first.wait_ms, second.wait_ms) == (0, 0)

    await asyncio.sleep(1.1)  # a window later: the provider may not have seen either request yet
    assert (await limiter.acquire("all24", "acct", limits, in_flight_ms=30_000)).wait_ms > 0

    await limiter.sent(first)  # its answer is back: it arrived by now, and counts for one window from now
    assert (await limiter.acquire("all24", "acct", limits, in_flight_ms=30_000)).wait_ms > 0
    await asyncio.sleep(1.1)
    assert (await limiter.acquire("all24", "acct", limits, in_flight_ms=30_000)).wait_ms == 0
