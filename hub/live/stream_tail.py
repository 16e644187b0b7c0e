"""The fan-out reader's own Redis connections: commands written as bytes, replies parsed by hiredis.

The live process takes every ``hub:events`` entry at the rates it serves, so the read path is
per-event cost. Through redis-py each read went through the pool, a health check, the retry
wrapper, a timeout context and a task for the read, the reply callbacks; measured with
``bench/fanout.py``'s profile that was about a tenth of the live process's CPU. Here a message
on a subscribed connection (:meth:`Tail.subscribe`, :mod:`hub.live.pushes`) or an ``XREAD`` reply
(:meth:`Tail.follow`) is handled in the ``data_received`` that parsed it. Only plain TCP
connections (``redis://``) take this path; TLS, Unix sockets and clusters read through redis-py
(:meth:`hub.live.fanout.Fanout._read`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # After subscribe: each message published on the channel, in data_received's turn.
        self._on_message: Callable[[str], None] | None = None
        # While following (see follow): each reply goes to this callback, in data_received's turn.
        self._on_reply: Callable[[Any], bytes | None] | None = None
        self._followed: asyncio.Future[None] | None = None
        self._replies = 0  # counted for the watchdog, instead of a timer armed per read
        self._replies_seen = -1
        self._watchdog: asyncio.TimerHandle | None = None

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

    async def subscribe(self, channel: str, on_message: Callable[[str], None]) -> None:
        """``SUBSCRIBE``: every message published on ``channel`` from the confirmation on goes to
        ``on_message``, in the turn of the loop that received it. The connection then takes only
        ``PING`` (answered ``["pong", ""]``) and ``SUBSCRIBE``s; a refusal raises ``ResponseError``."""
        self._on_message = on_message  # a message may follow the confirmation in the same read
        try:
            await self.call("SUBSCRIBE", channel)
        except BaseException:
            self._on_message = None
            raise

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

    async def follow(self, command: bytes, on_reply: Callable[[Any], bytes | None]) -> None:
        """Send ``command``, then for each reply the command ``on_reply`` returns, until it returns ``None``.

        The replies are handled in ``data_received``'s own turn of the loop and the next command
        written there: no future resolved, no task woken, no timer armed per read (measured with
        bench/fanout.py, the task switch and the extra loop turn per read were a tenth of the
        fan-out's CPU per event). A connection with no reply for ``REPLY_TIMEOUT_S`` is closed.
        """
        if self._lost or self._transport is None:
            raise RedisConnectionError("the live fan-out's connection is closed")
        loop = asyncio.get_running_loop()
        self._followed = loop.create_future()
        self._on_reply = on_reply
        self._replies_seen = -1
        self._watchdog = loop.call_later(REPLY_TIMEOUT_S, self._watch)
        self._transport.write(command)
        try:
            await self._followed
        finally:
            self._on_reply = None
            self._followed = None
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None

    def _watch(self) -> None:
        if self._replies == self._replies_seen:  # nothing since the last look: the read is stuck
            self._timed_out()
            return
        self._replies_seen = self._replies
        self._watchdog = asyncio.get_running_loop().call_later(REPLY_TIMEOUT_S, self._watch)

    def _stop_following(self, exc: BaseException | None) -> None:
        followed = self._followed
        self._on_reply = None
        if followed is not None and not followed.done():
            if exc is None:
                followed.set_result(None)
            else:
                followed.set_exception(exc)

    def _timed_out(self) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(RedisConnectionError("no reply to the live fan-out's read"))
        self._stop_following(RedisConnectionError("no reply to the live fan-out's read"))
        self.close()

    def close(self) -> None:
        self._lost = True
        if self._transport is not None:
            self._transport.close()
        if not self.closed.done():
            self.closed.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            self._replies += 1
            if self._on_message is not None and type(reply) is list and reply and reply[0] == "message":
                self._on_message(reply[2])
            elif self._on_reply is not None:
                self._follow(reply)
            elif self._reply is not None and not self._reply.done():
                self._reply.set_result(reply)

    def _follow(self, reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            self._stop_following(ResponseError(str(reply)))
            return
        try:
            command = self._on_reply(reply)  # type: ignore[misc]
        except BaseException as exc:  # the follower's bug ends the follow, not the loop
            self._stop_following(exc)
            return
        if command is None:
            self._stop_following(None)
        elif self._transport is not None and not self._lost:
            self._transport.write(command)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if not self.closed.done():
            self.closed.set_result(None)
        self._stop_following(RedisConnectionError(f"the live fan-out's connection was lost: {exc}"))
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(RedisConnectionError(f"the live fan-out's connection was lost: {exc}"))
