"""``hub scheduler``: enqueue polls as they fall due, one RQ job per batch of shipments.

Any number of schedulers may run: the claim script leases what it returns, so two
never enqueue the same poll. A claimed shipment whose job is lost (worker killed, queue
flushed) is claimed again when its lease runs out.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any, cast

import redis as sync_redis
from redis.cluster import RedisCluster
from rq import Queue

from hub import keys
from hub.settings import Settings
from workers import jobs
from workers.backoff import delay_s
from workers.schedule import Claimer, backfill

log = logging.getLogger(__name__)

MAX_BATCHES_PER_TICK = 50
REDIS_RETRY_MAX_S = 5.0


class Scheduler:
    """Claims due shipments from the due-time index on ``data`` and enqueues them on ``connection``."""

    def __init__(
        self, settings: Settings, connection: sync_redis.Redis, data: sync_redis.Redis | None = None
    ) -> None:
        self.settings = settings
        self.poll = settings.poll
        self.data = connection if data is None else data
        self.claimer = Claimer(self.data)
        self.delay_claimer = Claimer(self.data, keys.DELAY_DUE)
        self.queue = Queue(self.poll.queue, connection=connection)
        self.stopping = threading.Event()

    def tick(self) -> int:
        """Enqueue what is due now; returns how many shipments were enqueued."""
        now_ms = int(time.time() * 1000)
        limit = self.poll.batch_size * MAX_BATCHES_PER_TICK
        claimed = self.claimer.claim(now_ms, limit, int(self.poll.lease_s * 1000))
        batches = [
            claimed[i : i + self.poll.batch_size] for i in range(0, len(claimed), self.poll.batch_size)
        ]
        if batches:
            self.queue.enqueue_many(
                [
                    Queue.prepare_data(
                        jobs.poll_batch,
                        args=(batch,),
                        timeout=int(self.poll.lease_s),
                        result_ttl=0,
                        failure_ttl=86400,
                        description=f"poll {len(batch)} shipments",
                    )
                    for batch in batches
                ]
            )
        self._enqueue_bulk_round(now_ms)
        return len(claimed) + self._enqueue_delay_checks(now_ms)

    def _enqueue_bulk_round(self, now_ms: int) -> None:
        """One HLD order-list round per interval, whichever scheduler gets there first."""
        interval_ms = int(self.settings.hld_bulk.interval_s * 1000)
        if interval_ms <= 0 or not self.settings.provider("hld").credentials.get("token"):
            return
        if self.data.set(keys.poll_bulk_round("hld"), now_ms, nx=True, px=interval_ms):
            self.queue.enqueue(
                jobs.reconcile_hld,
                job_timeout=int(self.poll.lease_s),
                result_ttl=0,
                failure_ttl=86400,
                description="reconcile HLD shipments from its order list",
            )

    def _enqueue_delay_checks(self, now_ms: int) -> int:
        """Shipments whose ETA plus grace passed go to a worker (:func:`workers.jobs.check_delays`)."""
        lease_ms = int(self.poll.lease_s * 1000)
        claimed = self.delay_claimer.claim(now_ms, self.poll.batch_size, lease_ms)
        if claimed:
            self.queue.enqueue(
                jobs.check_delays,
                args=([shipment_id for shipment_id, _ in claimed],),
                job_timeout=int(self.poll.lease_s),
                result_ttl=0,
                failure_ttl=86400,
                description=f"check {len(claimed)} shipments for delay",
            )
        return len(claimed)

    def run(self) -> None:
        try:
            log.info(
                "scheduler start: %d shipments missing from the due-time index added",
                backfill(self.data, settings=self.settings),
            )
        except (
            sync_redis.RedisError
        ) as exc:  # the next start tries again; new registrations are indexed anyway
            log.warning("backfill of the due-time index failed: %s", exc)
        log.info("scheduler enqueueing on queue %r every %.2f s", self.poll.queue, self.poll.tick_s)
        failures = 0
        while not self.stopping.is_set():
            try:
                full = self.tick() == self.poll.batch_size * MAX_BATCHES_PER_TICK
                failures = 0
            except (sync_redis.RedisError, OSError) as exc:  # Redis away: wait for it, with backoff
                failures += 1
                wait_s = max(self.poll.tick_s, delay_s(failures, self.poll.tick_s, REDIS_RETRY_MAX_S))
                log.warning("scheduler tick failed, retrying in %.1f s: %s", wait_s, exc)
                self.stopping.wait(wait_s)
                continue
            if not full:  # a full tick means more is due: go again at once
                self.stopping.wait(self.poll.tick_s)


def data_connection(settings: Settings) -> sync_redis.Redis:
    """The hub's own server (shipments, the due-time index), a cluster when ``HUB_REDIS_CLUSTER`` says so."""
    if not settings.redis_url:
        from hub.errors import ConfigError

        raise ConfigError("HUB_REDIS_URL is not set")
    if settings.redis_cluster:
        cluster: Any = RedisCluster.from_url(settings.redis_url)
        return cast(sync_redis.Redis, cluster)
    return sync_redis.Redis.from_url(settings.redis_url)


def connection(settings: Settings) -> sync_redis.Redis:
    """The queues' server (a synchronous client without decoding: RQ stores pickled job data)."""
    if not settings.queue_redis_url:
        from hub.errors import ConfigError

        raise ConfigError("HUB_REDIS_URL is not set")
    return sync_redis.Redis.from_url(settings.queue_redis_url)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub scheduler``: runs until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redis, data = connection(settings), data_connection(settings)
    running = Scheduler(settings, redis, data)
    signal.signal(signal.SIGTERM, lambda *_: running.stopping.set())
    try:
        running.run()
    finally:
        redis.close()
        data.close()
    return 0
