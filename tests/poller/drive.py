"""Drive polls in-process (real Redis, real HTTP to the emulators), honouring the due-time index."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from hub import keys
from workers.poll import Outcome, Poller


async def drive(poller: Poller, redis: Redis, timeout_s: float = 45.0) -> list[Outcome]:
    """Poll whatever falls due until the index is empty; fail after ``timeout_s``."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + timeout_s
    while await redis.zcard(keys.POLL_DUE):
        assert time.monotonic() < deadline, f"polling did not finish in {timeout_s} s: {outcomes[-5:]}"
        now_ms = int(time.time() * 1000)
        due = await redis.zrangebyscore(keys.POLL_DUE, "-inf", now_ms, withscores=True)
        if due:
            outcomes += await poller.poll_many((member, int(score)) for member, score in due)
        else:
            await asyncio.sleep(0.02)  # nothing due yet: wait for the next due time
    return outcomes


async def wait_for(condition: Callable[[], Awaitable[object]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)
