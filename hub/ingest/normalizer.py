"""``hub normalizer``: turns the payloads receivers accepted (:mod:`hub.inbox`) into events.

Normalizers share one consumer group, so any number may run; each takes a batch of up to
``READ_COUNT`` entries, ingests them together (one shipment's payloads in order, the
rest concurrently and sharing round trips), then acknowledges and deletes them. A
payload that cannot be normalized goes to the dead-letter stream, as everywhere else;
a normalizer that dies leaves its batch pending, and another takes it over.

An entry whose handling raises (a lone surrogate Redis cannot encode, a bug) is isolated
by :class:`~hub.consumer.Poison`: its batch-mates go on, it is retried when reclaimed,
and after ``HUB_POISON_ATTEMPTS_MAX`` deliveries each of its payloads that still fails
alone becomes a dead letter. A normalizer never crash-loops on data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from redis.asyncio import Redis

from hub import keys
from hub.errors import NormalizationError
from hub.infra import runtime
from hub.infra.group_consumer import Entry, GroupConsumer, Poison
from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest import deadletter, inbox
from hub.ingest.payload import Ingested, Payload, Rejected
from hub.ingest.pipeline import Ingestor
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
            # After a short batch, what arrives within the linger waits for the next one: a batch costs
            # the same few round trips (read, append, indexes, acknowledge) for one payload or ten.
            linger_ms=settings.normalizer_linger_ms,
            poison=Poison(
                settings.poison_attempts_max,
                keep_raw=deadletter.stream_keeper(redis, keys.INBOX),
                bury=self.bury,
                delete=True,
            ),
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
        self._count(payloads, await self.ingestor.ingest_batch(payloads))
        await self.consumer.ack([entry_id for entry_id, _ in entries], delete=True)

    async def bury(self, entry: Entry, reason: str, salvage: bool) -> None:
        """A poison entry's payloads: each that still fails alone (all, without ``salvage``) is dead-lettered.

        Raises for an entry holding no payloads; the consumer then keeps its raw fields.
        """
        entry_id, fields = entry
        for payload in inbox.from_entry(fields):
            why = reason
            if salvage:
                try:
                    self._count([payload], await self.ingestor.ingest_batch([payload]))
                    continue
                except UNAVAILABLE:
                    raise
                except Exception as exc:
                    why = f"{reason}; alone it failed with {exc!r}"
            error = NormalizationError(payload.provider, f"inbox entry {entry_id}: {why}")
            self._count([payload], [await self.ingestor.reject(payload, error)])

    def _count(self, payloads: list[Payload], results: list[Ingested | Rejected]) -> None:
        for payload, result in zip(payloads, results, strict=True):
            outcome = "ingested" if isinstance(result, Ingested) else "deadlettered"
            self.ingestor.counts.add("hub_inbox_processed_total", provider=payload.provider, outcome=outcome)
