"""Events in, normalized events out, for ``hub pusher``: in per-shipment order, never lost.

Each shipment's events go through one of ``INGEST_SHARDS`` queues, so they keep their
order while shipments flow in parallel; positions are coalesced first. An event already
received is retried until Redis takes it (it will not be sent again); one that keeps
failing for its own reasons is dead-lettered. After every subscription the channel is
gap-filled from HLD's tracking endpoint, and a terminal status leaves the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import zlib
from collections.abc import Callable

import httpx
from redis.asyncio import Redis

from hub.errors import NormalizationError
from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest.payload import Ingested, Payload, Rejected
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.model.status import TERMINAL
from hub.receive.hld_channels import protocol
from hub.receive.hld_channels.coalesce import Coalescer
from hub.receive.hld_channels.gapfill import gap_fill
from hub.receive.hld_channels.protocol import Frame
from hub.registry import shipments
from hub.settings import Settings

log = logging.getLogger(__name__)

LOCATION = "executive.location_updated"
STATUS = "hld.order.status_changed"
INGEST_SHARDS = 32  # queues; one shipment always uses the same one, so its events keep their order
GAPFILL_QUEUE = 100_000


class Intake:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.ingestor = Ingestor(redis, settings)
        self.coalescer = Coalescer(settings.pusher.coalesce_ms / 1000, self._ingest_location)
        self._shards: list[asyncio.Queue[tuple[str, str, bytes]]] = []
        self._gapfills: asyncio.Queue[str] = asyncio.Queue(GAPFILL_QUEUE)

    def start(self, tasks: asyncio.TaskGroup, http: httpx.AsyncClient, held: Callable[[str], bool]) -> None:
        """The ingest and gap-fill workers; ``held`` says whether a channel is still this worker's."""
        self._shards = [asyncio.Queue(1000) for _ in range(INGEST_SHARDS)]
        for shard in self._shards:
            tasks.create_task(self._ingest_worker(shard))
        for _ in range(self.settings.pusher.gapfill_concurrency):
            tasks.create_task(self._gapfill_worker(http, held))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.coalescer.close()
        with contextlib.suppress(Exception):
            await self.ingestor.close()

    async def on_event(self, channel: str, frame: Frame) -> None:
        token = protocol.hld_token(channel)
        if token is None:
            return
        self.ingestor.counts.add("hub_pusher_events_total", event=frame.event)  # no round trip per event
        try:
            body = frame.data_bytes()
        except (TypeError, ValueError, RecursionError) as exc:  # data that cannot be re-encoded as JSON
            await self._keep_poison(token, f"pusher:{frame.event}", repr(frame.data).encode(), f"{exc!r}")
            return
        if frame.event == LOCATION:
            await self.coalescer.offer(token, body)
        else:  # status changes and anything unknown (dead-lettered by the normalizer) are never dropped
            await self._enqueue(token, f"pusher:{frame.event}", body)

    async def _ingest_location(self, token: str, body: bytes) -> None:
        await self._enqueue(token, f"pusher:{LOCATION}", body)

    async def _enqueue(self, token: str, kind: str, body: bytes) -> None:
        await self._shards[zlib.crc32(token.encode()) % len(self._shards)].put((token, kind, body))

    async def _ingest_worker(self, shard: asyncio.Queue[tuple[str, str, bytes]]) -> None:
        while True:
            token, kind, body = await shard.get()
            await self._ingest_until_stored(token, kind, body)
            _raise_if_cancelled()

    async def _ingest_until_stored(self, token: str, kind: str, body: bytes) -> None:
        """An event already received is retried until Redis takes it: it is not sent again.

        Redis being away is waited out; any other failure is the event's own (a lone surrogate,
        a bug) and is retried ``poison_attempts_max`` times before the event is dead-lettered,
        so one event cannot stop its shard nor the worker.
        """
        failures = 0
        for attempt in itertools.count():
            try:
                result = await self.ingestor.ingest_raw("hld", kind, body, Channel.PUSHER, ref=token)
                await self._finish_if_terminal(token, result)
                return
            except Rejected:
                return  # kept in the dead-letter stream with the reason
            except UNAVAILABLE as exc:  # idempotent by event id, so a retry after a partial write is safe
                await metrics.inc(self.redis, "hub_pusher_ingest_retries_total")
                await pause(f"ingesting {kind}", exc, protocol.backoff_s(attempt, 100, 5000))
            except Exception as exc:
                failures += 1
                if failures >= self.settings.poison_attempts_max:
                    await self._keep_poison(
                        token, kind, body, f"ingesting failed {failures} times, last with {exc!r}"
                    )
                    return
                log.exception("ingesting %s for %s… failed (attempt %d)", kind, token[:6], failures)
                await asyncio.sleep(protocol.backoff_s(attempt, 100, 5000))

    async def _keep_poison(self, token: str, kind: str, body: bytes, reason: str) -> None:
        """Dead-letter an event that keeps failing; waits out Redis being away, as an event is not resent."""
        payload = Payload("hld", kind, body, Channel.PUSHER, ref=token)
        for attempt in itertools.count():
            try:
                await self.ingestor.reject(payload, NormalizationError("hld", reason))
                await metrics.inc(self.redis, "hub_poison_deadlettered_total", consumer="pusher")
                log.error("event %s for %s… dead-lettered: %s", kind, token[:6], reason)
                return
            except UNAVAILABLE as exc:
                await pause(f"dead-lettering {kind}", exc, protocol.backoff_s(attempt, 100, 5000))

    def on_subscribed(self, channel: str) -> None:
        token = protocol.hld_token(channel)
        if token is not None:
            with contextlib.suppress(asyncio.QueueFull):  # the next reconnect or resync fills it
                self._gapfills.put_nowait(token)

    async def _gapfill_worker(self, http: httpx.AsyncClient, held: Callable[[str], bool]) -> None:
        while True:
            token = await self._gapfills.get()
            if not held(token):
                continue
            try:
                result = await gap_fill(self.ingestor, http, token)
                if result is not None:
                    await self._finish_if_terminal(token, result)
            except UNAVAILABLE as exc:
                await pause(f"gap-filling {token[:6]}…", exc)
                with contextlib.suppress(asyncio.QueueFull):
                    self._gapfills.put_nowait(token)
            except Exception:  # never the worker's end: the next (re)subscription gap-fills again
                log.exception("gap-fill of %s… failed", token[:6])
            _raise_if_cancelled()

    async def _finish_if_terminal(self, token: str, result: Ingested) -> None:
        """After a terminal status nothing more is expected: leave the channel, for every worker."""
        for appended in result.published:
            event = appended.event
            if (
                event is not None
                and event["type"] == "shipment.status_changed"
                and event["data"]["status"] in TERMINAL
                and not event["data"].get("stale")
            ):
                await shipments.finished(self.redis, appended.shipment_id, "hld", token)
                return


async def pause(doing: str, error: Exception, delay_s: float = 1.0) -> None:
    log.warning("redis error while %s (%s); retrying in %.1f s", doing, error, delay_s)
    await asyncio.sleep(delay_s)


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation a library swallowed (seen under redis-py on 3.11), or shutdown hangs."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
