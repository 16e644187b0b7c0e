"""One reader of ``hub:events`` per process, fanning entries out in memory.

Like encode/broadcaster: a single blocking ``XREAD`` loop serves every socket of the
process, so Redis sees one reader per process however many clients are connected.
Each entry is parsed once and routed to the subscribers of its shipment and of its
merchant; rendering for a view is cached on the entry, so a thousand sockets watching
one merchant cost one ``json.dumps``. While no socket listens the reader rests, so a
web process that only takes webhooks spends nothing on the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.infra.redis_clients import is_cluster
from hub.live import fastjson, offsets
from hub.live.conn import text_frame
from hub.live.pushes import Pushes, Refused
from hub.live.stream_tail import Tail, bulk, can_follow, pack
from hub.model.observation import EventType

log = logging.getLogger(__name__)

# The blocking read returns well inside redis-py's 5 s socket timeout, or an idle stream
# would look like a failure (and the retry delay would hold up the next event).
READ_BLOCK_MS = 2000
READ_COUNT = 1000
RETRY_DELAY_S = 1.0
_LOCATION_UPDATED = EventType.LOCATION_UPDATED.value  # an enum's value is a property: read it once


class Published:
    """One ``hub:events`` entry, with what every socket asks of it worked out once."""

    __slots__ = (
        "_frames",
        "_rendered",
        "event",
        "location",
        "merchant_id",
        "offset",
        "position",
        "shipment_id",
    )

    def __init__(self, offset: str, event: dict[str, Any]) -> None:
        self.offset = offset
        self.position = offsets.key(offset)  # compared with each socket's floor
        self.event = event
        self.shipment_id: str = event["data"]["shipment_id"]
        self.merchant_id: str = event["data"]["merchant_id"]
        self.location = event.get("type") == _LOCATION_UPDATED  # coalesced when lagging
        self._rendered: dict[str, str] = {}
        self._frames: dict[str, bytes] = {}

    @property
    def event_id(self) -> str:
        event_id: str = self.event["id"]
        return event_id

    def rendered(self, view: str, render: Callable[[Published], str]) -> str:
        if view not in self._rendered:
            self._rendered[view] = render(self)
        return self._rendered[view]

    def frame(self, view: str, render: Callable[[Published], str]) -> bytes:
        """The view's WebSocket frame, encoded once for all the sockets of the view."""
        frame = self._frames.get(view)
        if frame is None:
            frame = self._frames[view] = text_frame(self.rendered(view, render))
        return frame


Subscriber = Callable[[Published], None]


def shipment_topic(shipment_id: str) -> str:
    return f"shipment:{shipment_id}"


def merchant_topic(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


class Fanout:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.offset = offsets.ZERO
        self._topics: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()  # set while the reader must follow the stream
        self._connection: Any = None  # the reader's own connection (one server; see _read)
        self._command = ("XREAD", "COUNT", READ_COUNT, "BLOCK", READ_BLOCK_MS, "STREAMS", keys.EVENTS)
        self._cluster = is_cluster(redis)
        self._tail_ok = can_follow(redis)  # plain TCP: the reader's own raw connection (stream_tail)
        self._tail: Tail | None = None
        self._pushes: Pushes | None = Pushes(self)  # None once Redis refused the subscription
        # The XREAD command but its last argument (the offset): 8 arguments announced, 7 written.
        self._packed = pack(*self._command, "").removesuffix(bulk(""))

    def listening(self) -> bool:
        return bool(self._topics)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._topics.values())

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Returns once this process reads every entry appended from now on (so take snapshots after)."""
        if not self._listening.is_set():
            end = await self._stream_end()  # a resting reader skips what nobody was listening for
            if not self._listening.is_set():  # no other first subscriber moved it meanwhile
                self.offset = end
        self._topics.setdefault(topic, set()).add(subscriber)
        self._listening.set()

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[topic]

    async def start(self) -> None:
        """Start the reader; it rests until the first subscriber (earlier entries are for snapshots)."""
        self._task = asyncio.create_task(self._run(), name="hub-live-fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release(disconnect=True)  # it may be mid-read

    async def _run(self) -> None:
        while True:
            if not self._topics:
                self._listening.clear()
            await self._listening.wait()
            try:
                if self._tail_ok:
                    await self._follow()
                    continue
                entries = await self._read()
            except (RedisError, OSError) as exc:
                log.warning("live fan-out cannot read %s (%s); retrying", keys.EVENTS, exc)
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            for entry_id, fields in entries:
                self.offset = entry_id
                self.dispatch(entry_id, fields)

    async def _follow(self) -> None:
        """Read on the reader's own raw connection (stream_tail) until no socket listens.

        By the messages the append script publishes (:mod:`hub.live.pushes`), or where Redis
        refuses the subscription by ``XREAD``: each reply dispatched in the turn of the loop
        that received it, and the next ``XREAD`` written right there (:meth:`Tail.follow`).
        """
        if self._tail is None:
            self._tail = await Tail.open(self.redis)
        try:
            if self._pushes is None:
                await self._tail.follow(self._packed + bulk(self.offset), self._on_reply)
                return
            await self._pushes.follow(self._tail)
        except Refused as refused:
            log.warning("live fan-out cannot subscribe to %s (%s): reads it by XREAD", keys.EVENTS, refused)
            self._pushes = None
        except BaseException:
            self._tail.close()
            self._tail = None
            raise
        self._tail.close()  # ends the subscription; the next subscriber's reader catches up
        self._tail = None

    def _on_reply(self, reply: Any) -> bytes | None:
        """Dispatch one ``XREAD`` reply; the next ``XREAD``, or ``None`` once nobody listens."""
        for _, entries in reply or ():
            for entry_id, fields in entries:
                self.offset = entry_id
                self.dispatch(entry_id, fields)
        if not self._topics:
            self._listening.clear()  # before _run wakes: a subscriber meanwhile moves the offset
            return None
        return self._packed + bulk(self.offset)

    async def _read(self) -> list[tuple[str, Any]]:
        """The next entries after ``self.offset``, blocking up to ``READ_BLOCK_MS``.

        On one server the reader keeps a connection of its own and sends ``XREAD`` on it
        directly: redis-py's command path (pool, retry, response callbacks) was a sixth of the
        fan-out's CPU per event (bench/fanout.py). A cluster's client routes the command itself.
        """
        if self._cluster:
            reply = await self.redis.xread({keys.EVENTS: self.offset}, block=READ_BLOCK_MS, count=READ_COUNT)
            return [entry for _, entries in reply for entry in entries]
        if self._connection is None:
            self._connection = await self.redis.connection_pool.get_connection()
        connection = self._connection
        try:
            await connection.send_command(*self._command, self.offset)
            reply = await connection.read_response()
        except BaseException:
            await self._release(disconnect=True)
            raise
        if not reply:
            return []
        streams = reply.items() if isinstance(reply, dict) else reply  # RESP3 map, RESP2 array
        return [(entry_id, fields) for _, entries in streams for entry_id, fields in entries]

    async def _release(self, disconnect: bool = False) -> None:
        if self._tail is not None:
            self._tail.close()
            self._tail = None
        connection, self._connection = self._connection, None
        if connection is not None:
            if disconnect:
                await connection.disconnect()
            await self.redis.connection_pool.release(connection)

    async def _stream_end(self) -> str:
        latest = await self.redis.xrevrange(keys.EVENTS, count=1)
        return str(latest[0][0]) if latest else offsets.ZERO

    def dispatch(self, entry_id: str, fields: Any) -> None:
        """``fields``: the event's JSON (a pushed message), a dict, or the flat ``[name, value, ...]``
        list of a raw reply."""
        if not self._topics:  # the last socket left during the read: spare the parse
            return
        try:
            if type(fields) is str:
                raw = fields
            elif isinstance(fields, list) and len(fields) == 2 and fields[0] == "event":
                raw = fields[1]  # what the appender writes: no dict for it
            else:
                if isinstance(fields, list):
                    fields = dict(zip(fields[::2], fields[1::2], strict=True))
                raw = fields["event"]
            entry = Published(entry_id, fastjson.loads(raw))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("live fan-out skips malformed entry %s: %s", entry_id, exc)
            return
        for topic in (shipment_topic(entry.shipment_id), merchant_topic(entry.merchant_id)):
            for subscriber in tuple(self._topics.get(topic, ())):
                try:
                    subscriber(entry)
                except Exception:  # one socket's bug must not starve the others
                    log.exception("live subscriber failed on %s", entry_id)
