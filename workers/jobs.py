"""RQ job functions. RQ runs them in a forked, synchronous process: each job opens its
own event loop, Redis client and HTTP pool, polls its batch concurrently, and closes them.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hub.clients import http_client
from hub.connection import connect
from hub.settings import Settings
from workers.poll import Poller


def poll_batch(due: list[tuple[str, int]]) -> dict[str, int]:
    """Poll ``(shipment_id, due_ms)`` pairs; returns how many ended which way."""
    return asyncio.run(_poll_batch(Settings.from_env(), due))


async def _poll_batch(settings: Settings, due: list[tuple[str, int]]) -> dict[str, int]:
    redis = connect(settings)
    try:
        async with http_client(settings, max_connections=settings.poll.concurrency) as http:
            outcomes = await Poller(redis, settings, http).poll_many((str(s), int(d)) for s, d in due)
    finally:
        await redis.aclose()
    return dict(Counter(outcome.result for outcome in outcomes))
