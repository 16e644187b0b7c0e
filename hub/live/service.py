"""The live service of one process: its fan-out reader, socket limits and counters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from redis.asyncio import Redis
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from hub.infra import metrics
from hub.live.access import MERCHANT_DISABLED
from hub.live.conn import Conn
from hub.live.fanout import Fanout
from hub.live.limits import Limits
from hub.live.send_queue import Message, SendQueue, SendQueues
from hub.registry import api_keys
from hub.registry.gate import Gate
from hub.settings import Settings
from hub.web.state import services

# Sockets subscribing at once (token lookup, snapshot or replay). The process's Redis pool
# (100 connections) is shared with ingest and the fan-out reader: a burst of reconnecting
# clients after a deploy queues here instead of failing for want of a connection.
SUBSCRIBING_AT_ONCE = 32
# Why a socket was shut from the server side (its send queue's ``shut_reason``).
KEY_REVOKED = "key_revoked"


class LiveService:
    def __init__(self, redis: Redis, settings: Settings, gate: Gate | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.gate = gate or Gate(redis)
        self.gate.on_change(self.close_refused)
        self.fanout = Fanout(redis)
        self.limits = Limits(
            redis, settings.live.max_per_ip, settings.live.max_per_merchant, settings.live.lease_s
        )
        self.subscribing = asyncio.Semaphore(SUBSCRIBING_AT_ONCE)
        self.counts = metrics.Buffer(redis)  # no Redis round trip per socket or per message
        self.send_queues = SendQueues()
        self._chores: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.fanout.start()
        self._chores = [
            asyncio.create_task(self.send_queues.keep_alive(self.settings.live.ping_interval_s)),
            asyncio.create_task(self.limits.keep_renewing()),
        ]

    async def stop(self) -> None:
        for chore in self._chores:
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self.fanout.stop()
        await self.counts.close()

    def refusal(self, send_queue: SendQueue) -> str | None:
        """Why this socket may no longer listen (its merchant disabled), else None."""
        if any(self.gate.is_disabled(m) for m in send_queue.merchant_ids):
            return MERCHANT_DISABLED
        return None

    def registered(self, send_queue: SendQueue) -> _Registration:
        """Register the socket's send_queue, shut at once if the gate moved while it subscribed."""
        return _Registration(self, send_queue)

    async def close_refused(self) -> None:
        """Shut the sockets of disabled merchants and of revoked API keys (the gate saw a change)."""
        opened = {pair for send_queue in self.send_queues for pair in _keys_of(send_queue)}
        revoked = {pair for pair in opened if not await api_keys.exists(self.redis, *pair)}
        for send_queue in self.send_queues:
            reason = self.refusal(send_queue)
            if reason is None and not revoked.isdisjoint(_keys_of(send_queue)):
                reason = KEY_REVOKED
            if reason is not None:
                send_queue.shut(reason)
                self.count("hub_live_closed_total", reason=reason)

    def count(self, name: str, **labels: str) -> None:
        self.counts.add(name, 1, **labels)

    def sent(self, protocol: str, messages: int) -> None:
        if messages:
            self.counts.add("hub_live_messages_sent_total", messages, protocol=protocol)


class _Registration:
    """:meth:`LiveService.registered`'s context: a plain object, not a generator frame per socket."""

    __slots__ = ("live", "send_queue")

    def __init__(self, live: LiveService, send_queue: SendQueue) -> None:
        self.live, self.send_queue = live, send_queue

    def __enter__(self) -> SendQueue:
        self.live.send_queues.add(self.send_queue)
        if (reason := self.live.refusal(self.send_queue)) is not None:
            self.send_queue.shut(reason)
        return self.send_queue

    def __exit__(self, *exc: object) -> None:
        self.live.send_queues.discard(self.send_queue)


def _keys_of(send_queue: SendQueue) -> set[tuple[str, str]]:
    """(merchant id, API key id) of what the socket was opened with."""
    return {(m, k) for m in send_queue.merchant_ids for k in send_queue.api_key_ids}


def of(websocket: Conn) -> LiveService:
    """The process's live service: a :mod:`hub.live.wire` socket carries it, an ASGI one's app holds it."""
    live: LiveService | None = getattr(websocket, "live", None)
    if live is None:
        live = services(cast(HTTPConnection, websocket)).live
    return live


def client_ip(websocket: Conn) -> str:
    return websocket.client.host if websocket.client else "unknown"


async def serve_socket(
    send_queue: SendQueue,
    receive: Callable[[], Coroutine[Any, Any, None]],
    write: Callable[[list[Message] | None], Awaitable[bool]],
    direct: bool,
) -> None:
    """Run a socket's reader, and its writer: ``write`` gets what the send queue gives (``None``
    once it overflowed or was shut) and says whether the socket stays open.

    ``direct`` (a :mod:`hub.live.wire` socket, where frames mostly go out from the fan-out's own
    turn): the writer is a task only while it has something to do, so an idle socket costs one
    task, not three. Otherwise the writer waits on the queue for the socket's whole life.
    """
    if not direct:

        async def writer() -> None:
            while await write(await send_queue.take()):
                pass

        return await until_first_ends(receive(), writer())
    task: asyncio.Task[None] | None = None

    async def flush() -> None:
        with contextlib.suppress(WebSocketDisconnect):  # the reader sees the disconnect too
            while send_queue.has_work():
                if not await write(send_queue.take_now()):
                    return

    def wake() -> None:
        nonlocal task
        if task is None or task.done():
            task = asyncio.create_task(flush())

    send_queue.on_work = wake
    if send_queue.has_work():
        wake()
    try:
        await receive()
    finally:
        send_queue.on_work = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def until_first_ends(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run a socket's reader and writer until one ends; cancel the rest, and raise what it raised."""
    tasks = {asyncio.create_task(coroutine) for coroutine in coroutines}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()
