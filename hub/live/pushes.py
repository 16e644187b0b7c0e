"""Following ``hub:events`` by push: the append script publishes every new entry on a channel of
the stream's own name, and the live reader subscribes to it (one server, plain TCP).

An ``XREAD`` per event cost the live process a write to Redis, and Redis a read and a command,
for every event; a subscription costs only the message's read (bench/fanout.py, docs/live.md).
The stream stays the truth. The reader subscribes first, then reads from the stream what came
after its offset (``XREAD`` without ``BLOCK``), so nothing appended in between is missed, and a
message for an entry already read is skipped by its id. Each message names the entry before
its own: when that one was never read (a writer without the right to ``PUBLISH``, say), the
reader reads the stream from its offset before going on (a message still ahead of the stream then,
a stray publish, is dropped). An unpublished entry with none after it is found by a look at the
stream's end every ``TICK_S``: late, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from hub import keys
from hub.live import offsets
from hub.live.stream_tail import Tail

log = logging.getLogger(__name__)

TICK_S = 2.0  # how often the reader checks its connection and the stream's end
READ_COUNT = 1000


class Refused(Exception):
    """Redis refused the subscription (``NOPERM`` for channels, say): read by ``XREAD`` instead."""


class Reader(Protocol):
    """What the follower needs of the fan-out (:class:`hub.live.fanout.Fanout`)."""

    redis: Redis
    offset: str

    def dispatch(self, entry_id: str, fields: Any) -> None: ...

    def listening(self) -> bool: ...


class Pushes:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._position = offsets.key(reader.offset)
        # Messages waiting for the stream to be read (while catching up, or after a gap).
        self._held: list[tuple[str, str, str]] | None = None
        self._woken: asyncio.Future[None] | None = None
        self._reads: Tail  # the stream's reads, on a connection of their own (see follow)

    async def follow(self, tail: Tail) -> None:
        """Dispatch every entry after the reader's offset until nobody listens (then return) or the
        connection fails (then raise); :class:`Refused` when Redis refuses the subscription.

        The stream is read on a second raw connection: redis-py 8.1 returned from a command
        cancelled at the wrong moment as if nothing had happened, and the reader never stopped."""
        self._position = offsets.key(self.reader.offset)
        try:
            await tail.subscribe(keys.EVENTS, self._on_message)
        except ResponseError as refused:
            raise Refused(str(refused)) from None
        self._reads = await Tail.open(self.reader.redis)
        try:
            await self._follow(tail)
        finally:
            self._reads.close()

    async def _follow(self, tail: Tail) -> None:
        await self._catch_up()
        suspect: str | None = None  # the stream's last entry at the previous look
        loop = asyncio.get_running_loop()
        while self.reader.listening():
            if self._held is None:
                self._woken = loop.create_future()
                await asyncio.wait(
                    (tail.closed, self._woken), timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED
                )
                self._woken = None
            if tail.closed.done():
                raise RedisConnectionError("the live fan-out's subscription was lost")
            if self._held is not None:  # a message named an entry before it that never came
                log.warning("live fan-out: %s has entries nobody published; reads them from it", keys.EVENTS)
                await self._catch_up()
                continue
            await tail.call("PING")  # a connection that no longer answers is closed by the call's timer
            if suspect is not None and offsets.after(suspect, self.reader.offset):
                log.warning("live fan-out: %s has entries nobody published; reads them from it", keys.EVENTS)
                await self._catch_up()
            suspect = await self._stream_end()

    def _on_message(self, message: str) -> None:
        """``<previous entry id>\\n<entry id>\\n<event JSON>``, as the append script publishes it."""
        previous, _, rest = message.partition("\n")
        entry_id, _, raw = rest.partition("\n")
        if self._held is not None:
            self._held.append((previous, entry_id, raw))
        else:
            self._take(previous, entry_id, raw)

    def _take(self, previous: str, entry_id: str, raw: str, caught_up: bool = False) -> None:
        """``caught_up``: the stream was just read; a message still ahead of it names no real entry
        (or one published meanwhile: the next catch-up or look brings it), so it is dropped rather
        than read for again and again."""
        try:
            position, before = offsets.key(entry_id), offsets.key(previous)
        except ValueError:
            log.error("live fan-out skips a message that names no entry: %.40r", entry_id)
            return
        if position <= self._position:
            return  # read from the stream while catching up
        if before > self._position and caught_up:
            log.warning("live fan-out skips a message naming %.40r, which %s lacks", previous, keys.EVENTS)
            return
        if before > self._position:  # entries before this one never reached us: read them first
            self._held = [(previous, entry_id, raw)]
            if self._woken is not None and not self._woken.done():
                self._woken.set_result(None)
            return
        self._position = position
        self.reader.offset = entry_id
        self.reader.dispatch(entry_id, raw)

    async def _catch_up(self) -> None:
        """Read from the stream what came after the offset; messages meanwhile wait, then follow."""
        if self._held is None:
            self._held = []
        try:
            while True:
                reply = await self._reads.call(
                    "XREAD", "COUNT", READ_COUNT, "STREAMS", keys.EVENTS, self.reader.offset
                )
                entries = [entry for _, found in reply or () for entry in found]
                for entry_id, fields in entries:
                    self._position = offsets.key(entry_id)
                    self.reader.offset = entry_id
                    self.reader.dispatch(entry_id, fields)
                if len(entries) < READ_COUNT:
                    break
            held = self._held
        finally:
            self._held = None
        for message in held:
            self._take(*message, caught_up=True)

    async def _stream_end(self) -> str:
        latest = await self._reads.call("XREVRANGE", keys.EVENTS, "+", "-", "COUNT", 1)
        return str(latest[0][0]) if latest else offsets.ZERO
