"""Lingering consumers (the dispatcher, the normalizer): entries that arrive while one waits after a
short batch are handled together in the next batch, in order, every one acknowledged."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from hub import keys
from hub.infra.group_consumer import Entry, GroupConsumer
from hub.ingest.normalizer import Normalizer
from hub.settings import Settings
from tests.servers import eventually

GROUP = "linger-test"
LINGER_MS = 1000  # far longer than the five paced appends below take, even on a loaded machine
GAP_S = 0.02  # between those appends: without the linger each would be a batch of its own


async def test_entries_arriving_while_a_consumer_lingers_share_one_batch_in_order(redis: Redis) -> None:
    consumer = GroupConsumer(
        redis, keys.INBOX, GROUP, reclaim_idle_ms=30_000, read_count=50, linger_ms=LINGER_MS
    )
    await consumer.ensure_group()
    batches: list[list[str]] = []

    async def handle(entries: list[Entry]) -> None:
        if entries:  # the consumer also hands over empty reads
            batches.append([fields["n"] for _, fields in entries])
        await consumer.ack([entry_id for entry_id, _ in entries])

    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop, handle, block_ms=100))
    try:
        await redis.xadd(keys.INBOX, {"n": "0"})
        await eventually(lambda: _true(batches), "the first entry's batch")
        for n in range(1, 6):  # while the consumer lingers
            await asyncio.sleep(GAP_S)  # pacing the arrivals, not synchronizing
            await redis.xadd(keys.INBOX, {"n": str(n)})
        await eventually(lambda: _true(sum(map(len, batches)) == 6), "every entry handled")
    finally:
        stop.set()
        await running

    assert batches == [["0"], ["1", "2", "3", "4", "5"]]
    assert (await redis.xpending(keys.INBOX, GROUP))["pending"] == 0


async def test_a_consumer_without_linger_reads_again_at_once(redis: Redis) -> None:
    """The default (0) is unchanged: a lone entry is handled without waiting."""
    consumer = GroupConsumer(redis, keys.INBOX, GROUP, reclaim_idle_ms=30_000)
    assert consumer.linger_s == 0
    await consumer.ensure_group()
    handled: list[str] = []

    async def handle(entries: list[Entry]) -> None:
        handled.extend(fields["n"] for _, fields in entries)
        await consumer.ack([entry_id for entry_id, _ in entries])

    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop, handle, block_ms=100))
    try:
        for n in range(3):
            await redis.xadd(keys.INBOX, {"n": str(n)})
            await eventually(lambda n=n: _true(len(handled) == n + 1), f"entry {n} handled")
    finally:
        stop.set()
        await running
    assert handled == ["0", "1", "2"]


async def _true(value: object) -> object:
    return value


async def test_the_normalizer_lingers_as_configured(redis: Redis, settings: Settings) -> None:
    """``HUB_NORMALIZER_LINGER_MS``: 15 ms by default (CPU per webhook), 0 for an operator who wants none."""
    assert Normalizer(redis, settings).consumer.linger_s == 0.015
    assert Normalizer(redis, settings.replace(normalizer_linger_ms=0)).consumer.linger_s == 0
