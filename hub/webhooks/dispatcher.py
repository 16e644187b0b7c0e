"""The dispatcher: turns ``hub:events`` into deliveries, at least once, with several running.

Dispatchers share the consumer group ``keys.WEBHOOK_GROUP``; an entry is acknowledged
only after its deliveries exist, and entries a crashed dispatcher left pending are
taken over (``XAUTOCLAIM``) once idle for ``webhook_reclaim_idle_ms``. Delivery ids are
derived from endpoint and event, so handling an entry twice creates nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.infra import metrics, runtime
from hub.infra.group_consumer import GroupConsumer, Poison
from hub.ingest import deadletter
from hub.settings import Settings
from hub.webhooks import wake
from hub.webhooks.endpoints import Endpoint, EndpointCache
from hub.webhooks.matching import subscribers
from hub.webhooks.outgoing import Outgoing
from hub.webhooks.queue import Deliveries

log = logging.getLogger(__name__)

READ_COUNT = 200
# A webhook may wait this much longer (its target is 250 ms at p99): in return a batch holds the
# events of 20 ms, not one, and its round trips (read, endpoints, create, ack, count, wake) are
# shared (bench/pipeline.py, docs/benchmarks.md).
LINGER_MS = 20

Kick = Callable[[], Awaitable[None]]


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub dispatcher``: runs until SIGTERM or SIGINT (``hub worker`` sends the deliveries)."""
    return runtime.serve(settings, lambda redis: Dispatcher(redis, settings))


class Dispatcher:
    def __init__(self, redis: Redis, settings: Settings, kick: Kick | None = None, name: str | None = None):
        self.redis = redis
        self.settings = settings
        self.kick = kick or (lambda: wake.announce(redis))  # tests wake their own engine directly
        self.consumer = GroupConsumer(
            redis,
            keys.EVENTS,
            keys.WEBHOOK_GROUP,
            reclaim_idle_ms=settings.webhook.reclaim_idle_ms,
            name=name,
            read_count=READ_COUNT,
            take_over_at_start=True,  # a restarted dispatcher's predecessor's entries go first
            linger_ms=LINGER_MS,
            poison=Poison(
                settings.poison_attempts_max, keep_raw=deadletter.stream_keeper(redis, keys.EVENTS)
            ),
        )
        self.name = self.consumer.name
        self.deliveries = Deliveries(redis, settings.webhook.retention_s)
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
        """Create the deliveries of ``entries``, then acknowledge them. An entry that raises on its
        data is isolated by the consumer's :class:`~hub.infra.group_consumer.Poison`: retried when
        reclaimed, dead-lettered after ``poison_attempts_max`` deliveries (delivery ids are
        derived from endpoint and event, so handling the batch's good entries again creates
        nothing twice)."""
        if not entries:
            return
        by_merchant = _by_merchant((await self.endpoints.refresh()).values())
        items = [item for entry_id, fields in entries for item in _items(entry_id, fields, by_merchant)]
        created = await self.deliveries.create_many(items)
        await self.consumer.ack([entry_id for entry_id, _ in entries])
        if created:
            await metrics.inc(self.redis, "hub_webhook_deliveries_created_total", by=created)
            await self.kick()


Item = tuple[str, str, Outgoing]


def _items(entry_id: str, fields: dict[str, str], by_merchant: dict[str, list[Endpoint]]) -> list[Item]:
    """``(endpoint_id, merchant_id, event)`` for each endpoint the entry's event goes to (no parse)."""
    event = Outgoing.from_entry(fields)
    recorded_ms = int(entry_id.split("-")[0])
    endpoints = subscribers(by_merchant.get(event.merchant_id, []), event, recorded_ms)
    return [(endpoint.id, endpoint.merchant_id, event) for endpoint in endpoints]


def _by_merchant(endpoints: Any) -> dict[str, list[Endpoint]]:
    grouped: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        grouped.setdefault(endpoint.merchant_id, []).append(endpoint)
    return grouped
