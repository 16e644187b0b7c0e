"""The scheduler hands late shipments to a worker, which publishes ``shipment.delayed`` once."""

from __future__ import annotations

import asyncio
import threading

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from hub import keys
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.delays import due_ms
from tests.conftest import ROOT
from workers import jobs
from workers.schedule import backfill
from workers.scheduler import Scheduler

TRACKING = (ROOT / "tests/fixtures/hld/tracking_on_the_way.json").read_bytes()  # ETA 2026-04-04 11:15Z


async def tracked_with_eta(redis: Redis, settings: Settings) -> shipments.Shipment:
    """An HLD shipment whose tracking answer (with its ETA, long past) went through ingest."""
    shipment, _ = await shipments.register(redis, "m1", "hld", "HLD67890ABCDEF")
    ingestor = Ingestor(redis, settings)
    try:
        await ingestor.ingest_raw("hld", "tracking", TRACKING, Channel.POLL, ref="HLD67890ABCDEF")
    finally:
        await ingestor.close()
    return shipment


async def test_two_schedulers_claim_a_late_shipment_once_and_a_worker_publishes_it_once(
    redis: Redis, redis_url: str, poll_settings: Settings
) -> None:
    shipment = await tracked_with_eta(redis, poll_settings)
    connection = SyncRedis.from_url(redis_url)
    schedulers = [Scheduler(poll_settings, connection) for _ in range(2)]
    threads = [threading.Thread(target=lambda s=s: [s.tick() for _ in range(3)]) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    queued = Queue(poll_settings.poll.queue, connection=connection).get_jobs()
    connection.close()
    checks = [job.args[0] for job in queued if job.func_name == "workers.jobs.check_delays"]
    assert checks == [[shipment.id]]

    def run_check_twice() -> list[dict[str, int]]:  # the job, and a rerun after a lost lease
        with jobs.resident(poll_settings):
            return [jobs.check_delays(checks[0]), jobs.check_delays(checks[0])]

    assert await asyncio.to_thread(run_check_twice) == [{"published": 1}, {"duplicate": 1}]
    history = await shipments.history(redis, shipment.id)
    assert [e["type"] for e in history].count("shipment.delayed") == 1
    assert await redis.zscore(keys.DELAY_DUE, shipment.id) is None


async def test_a_scheduler_start_indexes_etas_the_delay_index_lost(
    redis: Redis, redis_url: str, poll_settings: Settings
) -> None:
    shipment = await tracked_with_eta(redis, poll_settings)
    await redis.delete(keys.DELAY_DUE)  # e.g. a shipment older than the index, or a restored dump
    connection = SyncRedis.from_url(redis_url)
    try:
        backfill(connection, settings=poll_settings)
    finally:
        connection.close()
    assert await redis.zscore(keys.DELAY_DUE, shipment.id) == due_ms("2026-04-04T11:15:00.000Z", 600)
