"""Waking a delivery engine when the dispatcher has created deliveries: one Redis list, no job queue.

The dispatcher pushes a token onto ``hub:wh:wake`` (kept at one item); each engine waits
on it between claims with ``BLPOP``. The engine that takes the token claims everything due,
up to its capacity. Engines look at their due index at least once a second anyway, so a
wake-up that no engine takes (none running, Redis restarting) delays deliveries, never
loses them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys

log = logging.getLogger(__name__)

ERROR_BACKOFF_S = 1.0


async def announce(redis: Redis) -> None:
    """Deliveries were created: wake one engine now."""
    pipe = redis.pipeline(transaction=False)
    pipe.lpush(keys.WEBHOOK_WAKE, 1)
    pipe.ltrim(keys.WEBHOOK_WAKE, 0, 0)  # one token is enough, however many batches came
    await pipe.execute()


async def listen(redis: Redis, wake: Callable[[], None], stop: asyncio.Event, block_s: float) -> None:
    """Call ``wake`` whenever this engine takes the token, until ``stop`` is set."""
    while not stop.is_set():
        try:
            if await redis.blpop([keys.WEBHOOK_WAKE], timeout=block_s):
                wake()
        except (RedisError, OSError) as exc:  # the engine's own loop reports the outage
            log.debug("waiting for wake-ups: %s", exc)
            await asyncio.sleep(ERROR_BACKOFF_S)
