"""RQ job functions. RQ runs them in a forked, synchronous process: each job opens its
own event loop, Redis client and HTTP pool, polls its batch concurrently, and closes them.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from redis.asyncio import Redis

from hub.clients import http_client
from hub.errors import ConfigError
from hub.settings import Settings
from workers.poll import Poller


def poll_batch(due: list[tuple[str, int]]) -> dict[str, int]:
    """Poll ``(shipment_id, due_ms)`` pairs; returns how many ended which way."""
    settings = Settings.from_env()
    if not settings.redis_url:
        raise ConfigError("HUB_REDIS_URL is not set: the worker cannot reach the due-time index")
    return asyncio.run(_poll_batch(settings, due))


async def _poll_batch(settings: Settings, due: list[tuple[str, int]]) -> dict[str, int]:
    # Every concurrent poll may hold a connection (plus metrics and group commits): size the pool to fit.
    redis = Redis.from_url(
        str(settings.redis_url), decode_responses=True, max_connections=2 * settings.poll.concurrency
    )
    try:
        async with http_client(settings, max_connections=settings.poll.concurrency) as http:
            poller = Poller(redis, settings, http)
            try:
                outcomes = await poller.poll_many((str(s), int(d)) for s, d in due)
            finally:
                await poller.ingestor.close()
    finally:
        await redis.aclose()
    return dict(Counter(outcome.result for outcome in outcomes))
