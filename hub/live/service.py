"""The live service of one process: its fan-out reader, socket limits and counters."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis
from starlette.websockets import WebSocket

from hub.infra import metrics
from hub.live.fanout import Fanout
from hub.live.limits import Limits
from hub.live.send_queue import Outboxes
from hub.settings import Settings
from hub.web.state import services

# Sockets subscribing at once (token lookup, snapshot or replay). The process's Redis pool
# (100 connections) is shared with ingest and the fan-out reader: a burst of reconnecting
# clients after a deploy queues here instead of failing for want of a connection.
SUBSCRIBING_AT_ONCE = 32


class LiveService:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.fanout = Fanout(redis)
        self.limits = Limits(
            redis, settings.live.max_per_ip, settings.live.max_per_merchant, settings.live.lease_s
        )
        self.subscribing = asyncio.Semaphore(SUBSCRIBING_AT_ONCE)
        self.counts = metrics.Buffer(redis)  # no Redis round trip per socket or per message
        self.outboxes = Outboxes()
        self._chores: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.fanout.start()
        self._chores = [
            asyncio.create_task(self.outboxes.keep_alive(self.settings.live.ping_interval_s)),
            asyncio.create_task(self.limits.keep_renewing()),
        ]

    async def stop(self) -> None:
        for chore in self._chores:
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self.fanout.stop()
        await self.counts.close()

    def count(self, name: str, **labels: str) -> None:
        self.counts.add(name, 1, **labels)

    def sent(self, protocol: str, messages: int) -> None:
        if messages:
            self.counts.add("hub_live_messages_sent_total", messages, protocol=protocol)


def of(websocket: WebSocket) -> LiveService:
    live: LiveService = services(websocket).live
    return live


def client_ip(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else "unknown"


async def until_first_ends(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run a socket's reader and writer until one ends; cancel the rest, and raise what it raised."""
    tasks = {asyncio.create_task(coroutine) for coroutine in coroutines}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()
