"""One process's view of revocations and disabled merchants, never more than a few seconds old.

Revoking an API key, rotating a receiver secret, disabling or enabling a merchant all bump
``keys.TENANCY_VERSION``. Each web process reads that counter once a second (one GET);
when it moved, the process drops every credential it cached (the receiver secrets' LRU),
reloads the set of disabled merchants, and tells its listeners (the live service closes
the sockets that may no longer listen). So every cache is at most ``recheck_s`` stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.infra.lru import LRU

log = logging.getLogger(__name__)

RECHECK_S = 1.0
FULL_RELOAD_EVERY = 30  # checks
Listener = Callable[[], Awaitable[None]]


class Gate:
    def __init__(
        self, redis: Redis, caches: tuple[LRU[str, Any], ...] = (), recheck_s: float = RECHECK_S
    ) -> None:
        self.redis = redis
        self.caches = caches
        self.recheck_s = recheck_s
        self.version: str | None = None
        self.disabled: frozenset[str] = frozenset()
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    def is_disabled(self, merchant_id: str) -> bool:
        return merchant_id in self.disabled

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def refresh(self, force: bool = False) -> bool:
        """Reload if anything changed since the last look (or ``force``); True when it did."""
        version = await self.redis.get(keys.TENANCY_VERSION) or "0"
        if version == self.version and not force:
            return False
        self.disabled = frozenset(await self.redis.smembers(keys.MERCHANTS_DISABLED))
        for cache in self.caches:
            cache.clear()
        self.version = version
        for listener in self._listeners:
            try:
                await listener()
            except Exception:  # one listener's bug must not stop the others or the loop
                log.exception("tenancy listener failed")
        return True

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):  # the loop retries; requests must not wait
            await self.refresh()
        self._task = asyncio.create_task(self._run(), name="hub-tenancy-gate")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        checks = 0
        while True:
            await asyncio.sleep(self.recheck_s)
            checks += 1
            try:  # on a cluster the counter and the set are on different nodes: reload now and then
                await self.refresh(force=checks % FULL_RELOAD_EVERY == 0)
            except (RedisError, OSError) as exc:
                log.warning("tenancy gate cannot read %s (%s); retrying", keys.TENANCY_VERSION, exc)
