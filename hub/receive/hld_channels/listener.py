"""The ``hub pusher`` worker: every active HLD shipment's channel, subscribed by exactly one worker.

It learns of new registrations from the registrations stream within one ``XREAD``
round trip, holds the channels its lease entitles it to (:mod:`hub.pusher.leases`),
spreads them over connections of ``pusher_channels_per_connection`` each, gap-fills a
channel after every subscription (:mod:`.intake` takes the events in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.errors import ConfigError
from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE
from hub.receive.hld_channels import protocol
from hub.receive.hld_channels.connection import Connection, PusherRefused
from hub.receive.hld_channels.intake import Intake, pause
from hub.receive.hld_channels.leases import Leases, new_worker_id, owner
from hub.settings import Settings

log = logging.getLogger(__name__)

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
        self.intake = Intake(redis, settings)
        self.worker_id = worker_id or new_worker_id()
        self.leases = Leases(redis, self.worker_id, settings.pusher.lease_ttl_ms)
        self._reporter = f"pusher:{self.worker_id}"
        self.active: dict[str, str] = {}  # shipment id -> tracking token, every active HLD shipment
        self.workers: list[str] = []
        self.connections: list[Connection] = []
        self.held: dict[str, Connection] = {}  # token -> the connection carrying its channel
        self.refused: asyncio.Future[None] | None = None
        self._cursor = "$"

    async def run(self) -> None:
        """Run until cancelled; raises :class:`~hub.pusher.connection.PusherRefused` when refused for good."""
        self.refused = asyncio.get_running_loop().create_future()
        timeout = httpx.Timeout(self.settings.pusher.gapfill_timeout_ms / 1000, connect=5.0)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http, asyncio.TaskGroup() as tasks:
                self.workers = await self.leases.renew()
                await self._load()
                await self._reconcile()
                self.intake.start(tasks, http, held=lambda token: token in self.held)
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
        self.intake.coalescer.forget(token)
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
            on_event=self.intake.on_event,
            on_subscribed=self.intake.on_subscribed,
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
                await pause("following registrations", exc)
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
                await pause("renewing the lease", exc)
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
                await pause("reloading active shipments", exc)
                continue
            await self._reconcile()

    async def _shutdown(self) -> None:
        log.info("stopping: closing %d connections and releasing the lease", len(self.connections))
        await asyncio.gather(*(connection.close() for connection in self.connections))
        self.connections.clear()
        with contextlib.suppress(Exception):
            await self.leases.release()
        with contextlib.suppress(Exception):
            await metrics.withdraw(self.redis, self._reporter)
        await self.intake.close()
