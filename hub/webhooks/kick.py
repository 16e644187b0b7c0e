"""The dispatcher's side of the delivery wake-up: at most one ``kick`` job queued at a time.

The job itself (:func:`workers.delivery_worker.kick`) runs in ``hub worker``; it is named
here by its dotted path, as RQ allows, so the hub does not import the worker.
"""

from __future__ import annotations

import asyncio

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from hub import keys
from hub.errors import ConfigError
from hub.settings import Settings

KICK_JOB = "workers.delivery_worker.kick"
KICK_FLAG_TTL_MS = 5_000  # a lost kick job cannot block later ones for longer than this


class Kicker:
    """The dispatcher's side: at most one kick job queued at a time.

    The flag lives beside the queue (``HUB_QUEUE_REDIS_URL``), where the job clears it,
    so it works when the hub's data is on a Redis Cluster and RQ is not.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.queue_redis_url:
            raise ConfigError("the dispatcher needs HUB_REDIS_URL (or HUB_QUEUE_REDIS_URL)")
        self.flags = Redis.from_url(settings.queue_redis_url)
        self.connection = SyncRedis.from_url(settings.queue_redis_url)
        self.queue = Queue(settings.webhook.queue, connection=self.connection)

    async def __call__(self) -> None:
        if await self.flags.set(keys.WEBHOOK_KICK, "1", nx=True, px=KICK_FLAG_TTL_MS):
            await asyncio.to_thread(self.queue.enqueue, KICK_JOB, result_ttl=0, failure_ttl=3600)

    async def aclose(self) -> None:
        await self.flags.aclose()
        self.connection.close()
