"""The dispatcher: turns ``hub:events`` into deliveries, at least once, with several running.

Dispatchers share the consumer group ``keys.WEBHOOK_GROUP``; an entry is acknowledged
only after its deliveries exist, and entries a crashed dispatcher left pending are
taken over (``XAUTOCLAIM``) once idle for ``webhook_reclaim_idle_ms``. Delivery ids are
derived from endpoint and event, so handling an entry twice creates nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.infra import metrics
from hub.infra.group_consumer import GroupConsumer
from hub.settings import Settings
from hub.webhooks.endpoints import Endpoint, EndpointCache
from hub.webhooks.matching import subscribers
from hub.webhooks.queue import Deliveries

log = logging.getLogger(__name__)

READ_COUNT = 200

Kick = Callable[[], Awaitable[None]]


class Dispatcher:
    def __init__(self, redis: Redis, settings: Settings, kick: Kick | None = None, name: str | None = None):
        self.redis = redis
        self.settings = settings
        self.kick = kick
        self.consumer = GroupConsumer(
            redis,
            keys.EVENTS,
            keys.WEBHOOK_GROUP,
            reclaim_idle_ms=settings.webhook_reclaim_idle_ms,
            name=name,
            read_count=READ_COUNT,
        )
        self.name = self.consumer.name
        self.deliveries = Deliveries(redis, settings.webhook_retention_s)
        self.endpoints = EndpointCache(redis)

    async def ensure_group(self) -> None:
        """Create the group at the stream's start; endpoints only take events recorded after they exist."""
        await self.consumer.ensure_group()

    async def run(self, stop: asyncio.Event) -> None:
        await self.consumer.run(stop, self.handle)

    async def step(self, block_ms: int) -> int:
        """Read new entries once (waiting up to ``block_ms``) and handle them; returns how many."""
        entries = await self.consumer.read(block_ms)
        await self.handle(entries)
        return len(entries)

    async def reclaim(self) -> int:
        """Take over entries other dispatchers read but never acknowledged."""
        return await self.consumer.reclaim(self.handle)

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
        await self.consumer.ack([entry_id for entry_id, _ in entries])
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
