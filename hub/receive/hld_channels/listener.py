"""The ``hub pusher`` worker: every active HLD shipment's channel, subscribed by exactly one worker.

It learns of new registrations from the registrations stream within one ``XREAD``
round trip, holds the channels its lease entitles it to (:mod:`hub.pusher.leases`),
spreads them over connections of ``pusher_channels_per_connection`` each, gap-fills a
channel after every subscription, and ingests events in per-shipment order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import zlib

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.errors import ConfigError, NormalizationError
from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest.pipeline import Ingested, Ingestor, Payload, Rejected
from hub.model.observation import Channel
from hub.model.status import TERMINAL
from hub.receive.hld_channels import protocol
from hub.receive.hld_channels.coalesce import Coalescer
from hub.receive.hld_channels.connection import Connection, PusherRefused
from hub.receive.hld_channels.gapfill import gap_fill
from hub.receive.hld_channels.leases import Leases, new_worker_id, owner
from hub.receive.hld_channels.protocol import Frame
from hub.registry import shipments
from hub.settings import Settings

log = logging.getLogger(__name__)

LOCATION = "executive.location_updated"
STATUS = "hld.order.status_changed"
INGEST_SHARDS = 32  # queues; one shipment always uses the same one, so its events keep their order
GAPFILL_QUEUE = 100_000
RESYNC_S = 30.0  # full reload of the active index, in case a registration message was missed
FOLLOW_BLOCK_MS = 1000


class Listener:
    def __init__(self, redis: Redis, settings: Settings, *, worker_id: str | None = None) -> None:
        hld = settings.provider("hld")
        self.key = hld.credentials.get("pusher_key")
        host = settings.pusher.host or (
            protocol.cluster_host(hld.credentials["pusher_cluster"])
            if "pusher_cluster" in hld.credentials
            else None
        )
        if not self.key or not host:
            raise ConfigError(
                "hub pusher needs HUB_HLD_PUSHER_KEY and HUB_HLD_PUSHER_CLUSTER (or HUB_PUSHER_HOST)"
            )
        self.url = protocol.url(host, self.key)
        self.redis = redis
        self.settings = settings
        self.ingestor = Ingestor(redis, settings)
        self.worker_id = worker_id or new_worker_id()
        self.leases = Leases(redis, self.worker_id, settings.pusher.lease_ttl_ms)
        self._reporter = f"pusher:{self.worker_id}"
        self.coalescer = Coalescer(settings.pusher.coalesce_ms / 1000, self._ingest_location)
        self.active: dict[str, str] = {}  # shipment id -> tracking token, every active HLD shipment
        self.workers: list[str] = []
        self.connections: list[Connection] = []
        self.held: dict[str, Connection] = {}  # token -> the connection carrying its channel
        self.refused: asyncio.Future[None] | None = None
        self._shards: list[asyncio.Queue[tuple[str, str, bytes]]] = []
        self._gapfills: asyncio.Queue[str] = asyncio.Queue(GAPFILL_QUEUE)
        self._cursor = "$"

    async def run(self) -> None:
        """Run until cancelled; raises :class:`~hub.pusher.connection.PusherRefused` when refused for good."""
        self.refused = asyncio.get_running_loop().create_future()
        self._shards = [asyncio.Queue(1000) for _ in range(INGEST_SHARDS)]
        timeout = httpx.Timeout(self.settings.pusher.gapfill_timeout_ms / 1000, connect=5.0)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http, asyncio.TaskGroup() as tasks:
                self.workers = await self.leases.renew()
                await self._load()
                await self._reconcile()
                for shard in self._shards:
                    tasks.create_task(self._ingest_worker(shard))
                for _ in range(self.settings.pusher.gapfill_concurrency):
                    tasks.create_task(self._gapfill_worker(http))
                tasks.create_task(self._follow())
                tasks.create_task(self._renew_leases())
                tasks.create_task(self._resync())
                await self.refused
        except* PusherRefused as refused:  # the one reason to stop: say it plainly, not as a group
            raise refused.exceptions[0] from None
        finally:
            await self._shutdown()

    # --- which channels this worker holds ---

    async def _load(self) -> None:
        last = await self.redis.xrevrange(keys.SHIPMENT_REGISTRATIONS, count=1)
        self._cursor = last[0][0] if last else "0-0"
        self.active = await self.redis.hgetall(keys.active("hld"))

    async def _reconcile(self) -> None:
        mine = {token for token in self.active.values() if owner(token, self.workers) == self.worker_id}
        for token in set(self.held) - mine:
            await self._release(token)
        for token in sorted(mine - set(self.held)):
            await self._hold(token)
        await metrics.inc(self.redis, "hub_pusher_reconciles_total")

    async def _hold(self, token: str) -> None:
        per_connection = self.settings.pusher.channels_per_connection
        connection = next((c for c in self.connections if len(c.channels) < per_connection), None)
        if connection is None:
            connection = self._connect()
        self.held[token] = connection
        await connection.subscribe(protocol.hld_channel(token))

    async def _release(self, token: str) -> None:
        connection = self.held.pop(token, None)
        self.coalescer.forget(token)
        if connection is None:
            return
        await connection.unsubscribe(protocol.hld_channel(token))
        if not connection.channels:
            self.connections.remove(connection)
            await connection.close()

    def _connect(self) -> Connection:
        connection = Connection(
            self.url,
            self.redis,
            on_event=self._on_event,
            on_subscribed=self._on_subscribed,
            pong_timeout_s=self.settings.pusher.pong_timeout_ms / 1000,
            backoff_min_ms=self.settings.pusher.backoff_min_ms,
            backoff_max_ms=self.settings.pusher.backoff_max_ms,
            name=f"pusher-{len(self.connections) + 1}",
        )
        self.connections.append(connection)
        connection.start().add_done_callback(self._connection_ended)
        return connection

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.refused is None or self.refused.done():
            return
        error = task.exception()
        if error is not None:  # PusherRefused, or a bug: either way the worker stops and says why
            self.refused.set_exception(error)

    async def _follow(self) -> None:
        """Apply registrations and finished shipments as they are announced."""
        while True:
            try:
                reply = await self.redis.xread(
                    {keys.SHIPMENT_REGISTRATIONS: self._cursor}, block=FOLLOW_BLOCK_MS
                )
            except RedisError as exc:
                await _pause("following registrations", exc)
                continue
            for _, entries in reply:
                for entry_id, fields in entries:
                    self._cursor = entry_id
                    if fields.get("provider") == "hld":
                        await self._apply_or_skip(entry_id, fields)

    async def _apply_or_skip(self, entry_id: str, fields: dict[str, str]) -> None:
        """A malformed announcement is skipped (the periodic resync covers its shipment), never fatal."""
        try:
            await self._apply(fields)
        except UNAVAILABLE:
            raise
        except Exception:
            log.exception("skipping registration %s, which cannot be applied: %r", entry_id, fields)
            await metrics.inc(self.redis, "hub_pusher_bad_registrations_total")

    async def _apply(self, fields: dict[str, str]) -> None:
        shipment_id, token = fields["shipment"], fields["provider_ref"]
        if fields.get("change") == "registered":
            self.active[shipment_id] = token
            if token not in self.held and owner(token, self.workers) == self.worker_id:
                await self._hold(token)
        elif self.active.pop(shipment_id, None) is not None and token in self.held:
            await self._release(token)

    async def _renew_leases(self) -> None:
        interval_s = self.settings.pusher.lease_ttl_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            try:
                workers = await self.leases.renew()
            except RedisError as exc:  # others may take our channels meanwhile; duplicates are dropped by id
                await _pause("renewing the lease", exc)
                continue
            if workers != self.workers:
                log.info("pusher workers now %s", workers)
                self.workers = workers
                await self._reconcile()
            await self._report()

    async def _report(self) -> None:
        """This worker's gauges for ``/metrics`` (summed over the live workers), renewed with its lease."""
        gauges = {
            "hub_pusher_connections": sum(c.socket_id is not None for c in self.connections),
            "hub_pusher_subscribed_channels": sum(len(c.subscribed) for c in self.connections),
        }
        await metrics.report(self.redis, self._reporter, gauges, self.settings.pusher.lease_ttl_ms)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(RESYNC_S)
            try:
                self.active = await self.redis.hgetall(keys.active("hld"))
            except RedisError as exc:
                await _pause("reloading active shipments", exc)
                continue
            await self._reconcile()

    # --- events in, normalized events out ---

    async def _on_event(self, channel: str, frame: Frame) -> None:
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
                await _pause(f"ingesting {kind}", exc, protocol.backoff_s(attempt, 100, 5000))
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
                await _pause(f"dead-lettering {kind}", exc, protocol.backoff_s(attempt, 100, 5000))

    def _on_subscribed(self, channel: str) -> None:
        token = protocol.hld_token(channel)
        if token is not None:
            with contextlib.suppress(asyncio.QueueFull):  # the next reconnect or resync fills it
                self._gapfills.put_nowait(token)

    async def _gapfill_worker(self, http: httpx.AsyncClient) -> None:
        while True:
            token = await self._gapfills.get()
            if token not in self.held:
                continue
            try:
                result = await gap_fill(self.ingestor, http, token)
                if result is not None:
                    await self._finish_if_terminal(token, result)
            except UNAVAILABLE as exc:
                await _pause(f"gap-filling {token[:6]}…", exc)
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

    async def _shutdown(self) -> None:
        log.info("stopping: closing %d connections and releasing the lease", len(self.connections))
        with contextlib.suppress(Exception):
            await self.coalescer.close()
        await asyncio.gather(*(connection.close() for connection in self.connections))
        self.connections.clear()
        with contextlib.suppress(Exception):
            await self.leases.release()
        with contextlib.suppress(Exception):
            await metrics.withdraw(self.redis, self._reporter)
        with contextlib.suppress(Exception):
            await self.ingestor.close()


async def _pause(doing: str, error: Exception, delay_s: float = 1.0) -> None:
    log.warning("redis error while %s (%s); retrying in %.1f s", doing, error, delay_s)
    await asyncio.sleep(delay_s)


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation a library swallowed (seen under redis-py on 3.11), or shutdown hangs."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
