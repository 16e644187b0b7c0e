"""``hub normalizer``: turns the payloads receivers accepted (:mod:`hub.inbox`) into events.

Normalizers share one consumer group, so any number may run; each takes a batch of up to
``READ_COUNT`` entries, ingests them together (one shipment's payloads in order, the
rest concurrently and sharing round trips), then acknowledges and deletes them. A
payload that cannot be normalized goes to the dead-letter stream, as everywhere else;
a normalizer that dies leaves its batch pending, and another takes it over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from redis.asyncio import Redis

from hub import keys
from hub.infra import runtime
from hub.infra.group_consumer import Entry, GroupConsumer
from hub.ingest import deadletter, inbox
from hub.ingest.pipeline import Ingested, Ingestor, Payload
from hub.settings import Settings

log = logging.getLogger(__name__)

READ_COUNT = 20  # entries per batch, each holding up to inbox.PAYLOADS_PER_ENTRY payloads


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub normalizer``: runs until SIGTERM or SIGINT, finishing the batch in hand."""
    return runtime.serve(settings, lambda redis: Normalizer(redis, settings))


class Normalizer:
    def __init__(
        self, redis: Redis, settings: Settings, ingestor: Ingestor | None = None, name: str | None = None
    ) -> None:
        self.redis = redis
        self.ingestor = ingestor or Ingestor(redis, settings)
        self.consumer = GroupConsumer(
            redis,
            keys.INBOX,
            keys.INBOX_GROUP,
            reclaim_idle_ms=settings.inbox_reclaim_idle_ms,
            name=name,
            read_count=READ_COUNT,
            take_over_at_start=True,  # a killed predecessor's payloads before newer ones of the same order
        )
        self.name = f"normalizer {self.consumer.name} reading {keys.INBOX}"

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.consumer.run(stop, self.handle)
        finally:
            await self.ingestor.close()

    async def handle(self, entries: list[Entry]) -> None:
        if not entries:
            return
        payloads: list[Payload] = []
        for entry_id, fields in entries:
            try:
                payloads += inbox.from_entry(fields)
            except (KeyError, TypeError, ValueError) as exc:  # not written by an Inbox: kept for an operator
                log.error("normalizer: inbox entry %s holds no payloads (%r)", entry_id, exc)
                reason = f"inbox entry {entry_id} holds no payloads: {exc!r}"
                body = json.dumps(fields).encode()
                await deadletter.add(
                    self.redis, provider="unknown", kind="inbox", channel="unknown", reason=reason, body=body
                )
        results = await self.ingestor.ingest_batch(payloads)
        for payload, result in zip(payloads, results, strict=True):
            outcome = "ingested" if isinstance(result, Ingested) else "deadlettered"
            self.ingestor.counts.add("hub_inbox_processed_total", provider=payload.provider, outcome=outcome)
        await self.consumer.ack([entry_id for entry_id, _ in entries], delete=True)
