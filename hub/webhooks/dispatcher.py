"""The dispatcher: turns ``hub:events`` into deliveries, at least once, with several running.

Dispatchers share the consumer group ``keys.WEBHOOK_GROUP``; an entry is acknowledged
only after its deliveries exist, and entries a crashed dispatcher left pending are
taken over (``XAUTOCLAIM``) once idle for ``webhook_reclaim_idle_ms``. Delivery ids are
derived from endpoint and event, so handling an entry twice creates nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from hub import keys, metrics
from hub.settings import Settings
from hub.webhooks.deliveries import Deliveries
from hub.webhooks.endpoints import Endpoint, EndpointCache
from hub.webhooks.matching import subscribers

log = logging.getLogger(__name__)

READ_COUNT = 200
BLOCK_MS = 1000
RECLAIM_EVERY_S = 5.0
ERROR_BACKOFF_S = 1.0

Kick = Callable[[], Awaitable[None]]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Dispatcher:
    def __init__(self, redis: Redis, settings: Settings, kick: Kick | None = None, name: str | None = None):
        self.redis = redis
        self.settings = settings
        self.kick = kick
        self.name = name or consumer_name()
        self.deliveries = Deliveries(redis, settings.webhook_retention_s)
        self.endpoints = EndpointCache(redis)

    async def ensure_group(self) -> None:
        """Create the group at the stream's start; endpoints only take events recorded after they exist."""
        try:
            await self.redis.xgroup_create(keys.EVENTS, keys.WEBHOOK_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_group()
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_reclaim:
                    await self.reclaim()
                    next_reclaim = loop.time() + RECLAIM_EVERY_S
                await self.step(BLOCK_MS)
            except RedisError as exc:
                log.warning("dispatcher: Redis error, retrying in %s s: %s", ERROR_BACKOFF_S, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ERROR_BACKOFF_S)

    async def step(self, block_ms: int) -> int:
        """Read new entries once (waiting up to ``block_ms``) and handle them; returns how many."""
        reply = await self.redis.xreadgroup(
            keys.WEBHOOK_GROUP, self.name, {keys.EVENTS: ">"}, count=READ_COUNT, block=block_ms
        )
        entries = [entry for _, stream_entries in reply or [] for entry in stream_entries]
        await self.handle(entries)
        return len(entries)

    async def reclaim(self) -> int:
        """Take over entries other dispatchers read but never acknowledged."""
        start, total = "0-0", 0
        for _ in range(100):  # bounded: at most 100 pages per round
            reply = await self.redis.xautoclaim(
                keys.EVENTS,
                keys.WEBHOOK_GROUP,
                self.name,
                min_idle_time=self.settings.webhook_reclaim_idle_ms,
                start_id=start,
                count=READ_COUNT,
            )
            start, entries = reply[0], [e for e in reply[1] if e and e[1] is not None]
            await self.handle(entries)
            total += len(entries)
            if start in ("0-0", b"0-0"):
                break
        if total:
            await metrics.inc(self.redis, "hub_webhook_entries_reclaimed_total", by=total)
        return total

    async def handle(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        if not entries:
            return
        by_merchant = _by_merchant((await self.endpoints.refresh()).values())
        items: list[tuple[str, str, dict[str, Any]]] = []
        for entry_id, fields in entries:
            event = _event(entry_id, fields)
            if event is None:
                continue
            merchant_id = str((event.get("data") or {}).get("merchant_id"))
            recorded_ms = int(entry_id.split("-")[0])
            for endpoint in subscribers(by_merchant.get(merchant_id, []), event, recorded_ms):
                items.append((endpoint.id, endpoint.merchant_id, event))
        created = await self.deliveries.create_many(items)
        await self.redis.xack(keys.EVENTS, keys.WEBHOOK_GROUP, *[entry_id for entry_id, _ in entries])
        if created:
            await metrics.inc(self.redis, "hub_webhook_deliveries_created_total", by=created)
            if self.kick is not None:
                await self.kick()


def _by_merchant(endpoints: Any) -> dict[str, list[Endpoint]]:
    grouped: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        grouped.setdefault(endpoint.merchant_id, []).append(endpoint)
    return grouped


def _event(entry_id: str, fields: dict[str, str]) -> dict[str, Any] | None:
    try:
        event = json.loads(fields["event"])
    except (KeyError, TypeError, json.JSONDecodeError):
        log.error("dispatcher: entry %s of %s holds no event JSON; skipped", entry_id, keys.EVENTS)
        return None
    return event if isinstance(event, dict) else None
