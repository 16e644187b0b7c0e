"""The fan-out reader's own Redis connection: ``XREAD`` written as bytes, replies parsed by hiredis.

The live process reads ``hub:events`` once per event at the rates it serves (an ``XREAD`` returns
as soon as one entry is there), so the read path is per-event cost. Through redis-py each read
went through the pool, a health check, the retry wrapper, a timeout context and a task for the
read, the reply callbacks; measured with ``bench/fanout.py``'s profile that was about a tenth of
the live process's CPU. Here a read is one write of prepacked bytes and one future resolved in
``data_received``. Only plain TCP connections (``redis://``) take this path; TLS, Unix sockets
and clusters read through redis-py (:meth:`hub.live.fanout.Fanout._read`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

CONNECT_TIMEOUT_S = 5.0
# An XREAD blocks up to 2 s; a reply later than this means the connection is gone.
REPLY_TIMEOUT_S = 10.0


def bulk(arg: object) -> bytes:
    """One argument of a command, in RESP."""
    data = arg if isinstance(arg, bytes) else str(arg).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def pack(*args: object) -> bytes:
    """A command in RESP."""
    return f"*{len(args)}\r\n".encode() + b"".join(bulk(arg) for arg in args)


def can_follow(redis: Any) -> bool:
    """Whether ``redis`` reaches one server over plain TCP (what :class:`Tail` speaks)."""
    pool = getattr(redis, "connection_pool", None)
    return pool is not None and pool.connection_class is Connection


class Tail(asyncio.Protocol):
    """One connection, one command at a time (RESP2, replies decoded as UTF-8)."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(encoding="utf-8")
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[Any] | None = None
        self._lost = False

    @classmethod
    async def open(cls, redis: Redis) -> Tail:
        """Connect as ``redis``'s pool would: host, port, credentials, database."""
        kwargs = redis.connection_pool.connection_kwargs
        loop = asyncio.get_running_loop()
        connect = loop.create_connection(cls, kwargs.get("host", "localhost"), int(kwargs.get("port", 6379)))
        _, tail = await asyncio.wait_for(connect, CONNECT_TIMEOUT_S)
        if kwargs.get("password"):
            credentials = [kwargs["username"]] if kwargs.get("username") else []
            await tail.call("AUTH", *credentials, kwargs["password"])
        if int(kwargs.get("db") or 0):
            await tail.call("SELECT", kwargs["db"])
        return tail

    async def call(self, *args: object) -> Any:
        return await self.send(pack(*args))

    async def send(self, command: bytes) -> Any:
        if self._lost or self._transport is None:
            raise RedisConnectionError("the live fan-out's connection is closed")
        loop = asyncio.get_running_loop()
        self._reply = loop.create_future()
        self._transport.write(command)
        deadline = loop.call_later(REPLY_TIMEOUT_S, self._timed_out)  # a timer, not wait_for's task
        try:
            reply = await self._reply
        finally:
            deadline.cancel()
            self._reply = None
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    def _timed_out(self) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(RedisConnectionError("no reply to the live fan-out's read"))
        self.close()

    def close(self) -> None:
        self._lost = True
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if self._reply is not None and not self._reply.done():
                self._reply.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(RedisConnectionError(f"the live fan-out's connection was lost: {exc}"))
