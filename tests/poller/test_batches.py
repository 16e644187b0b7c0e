"""Shipments the due-time index misses are found (backfill), and batches share one worker runtime."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from hub import keys
from hub.model.status import Status
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, Processes, status_codes
from tests.poller.drive import wait_for
from workers import jobs
from workers.schedule import backfill


async def test_shipments_registered_before_the_index_existed_are_polled_once_a_scheduler_starts(
    redis: Redis, emulators: Emulators, poll_env: dict[str, str], processes: Processes
) -> None:
    old = [(await shipments.register(redis, "m1", "all24", f"HSOLD{n:03d}"))[0] for n in range(3)]
    await redis.delete(keys.POLL_DUE)  # as if registered by a hub that had no due-time index yet

    processes.start(poll_env, "scheduler")
    processes.start(poll_env, "worker")

    async def all_heard_of() -> bool:
        return all([await status_codes(redis, shipment.id) for shipment in old])

    await wait_for(all_heard_of, 60, "shipments registered before the index to be polled")


async def test_backfill_adds_only_tracked_unfinished_shipments_and_keeps_due_times(
    redis: Redis, redis_url: str
) -> None:
    missing, indexed, stopped, delivered = [
        (await shipments.register(redis, "m1", "all24", f"HSBACK{n}"))[0] for n in range(4)
    ]
    await redis.zrem(keys.POLL_DUE, missing.id, stopped.id, delivered.id)
    await redis.zadd(keys.POLL_DUE, {indexed.id: 5_000_000})
    await shipments.stop_tracking(redis, stopped.id, "m1")
    await redis.hset(keys.shipment(delivered.id), "status", Status.DELIVERED)

    connection = SyncRedis.from_url(redis_url)
    try:
        added = await asyncio.to_thread(backfill, connection, 2)  # several SCAN pages
        again = await asyncio.to_thread(backfill, connection)
    finally:
        connection.close()

    assert added == 1 and again == 0
    assert await redis.zscore(keys.POLL_DUE, missing.id) == 0, "due at once"
    assert await redis.zscore(keys.POLL_DUE, indexed.id) == 5_000_000, "a due time already set is kept"
    assert await redis.zscore(keys.POLL_DUE, stopped.id) is None
    assert await redis.zscore(keys.POLL_DUE, delivered.id) is None


async def test_batches_on_one_worker_runtime_poll_each_shipment_once(
    redis: Redis, emulators: Emulators, poll_settings: Settings
) -> None:
    ids = [(await shipments.register(redis, "m1", "all24", f"HSBATCH{n:03d}"))[0].id for n in range(60)]
    batches = [[(shipment_id, 0) for shipment_id in ids[i : i + 20]] for i in range(0, len(ids), 20)]

    def run_batches() -> list[dict[str, int]]:  # as ``hub worker`` runs jobs: one after another, one runtime
        with jobs.resident(poll_settings):
            return [jobs.poll_batch(batch) for batch in batches]

    outcomes = await asyncio.to_thread(run_batches)

    assert sum((Counter(o) for o in outcomes), Counter()) == Counter(polled=len(ids))
    assert len(emulators.requests("all24")) == len(ids)
    for shipment_id in ids:
        assert await status_codes(redis, shipment_id) == ["050000"]
        assert (await redis.zscore(keys.POLL_DUE, shipment_id) or 0) > 0, "next poll scheduled"
    published = [json.loads(f["event"])["id"] for _, f in await redis.xrange(keys.EVENTS)]
    assert len(published) == len(set(published)) == len(ids)
