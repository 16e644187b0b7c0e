"""One consumer of a Redis stream consumer group: at least once, with several running.

An entry is acknowledged only after it was handled; entries a crashed consumer read but
never acknowledged are taken over (``XAUTOCLAIM``) once idle for ``reclaim_idle_ms``. So
whatever handles entries must be idempotent, which the hub's event ids make it.

Order survives faults: after a Redis error a consumer handles the batch it still holds
before reading anything new, and one made with ``take_over_at_start`` (a restarted process)
takes over every pending entry at once, so a killed predecessor's entries come before
newer ones rather than ``reclaim_idle_ms`` later.

Given a :class:`Poison`, one entry that makes its handler raise cannot stop the group: a
batch that raises is handled again entry by entry, the failing entry stays pending and is
retried when reclaimed, and once it has been delivered ``attempts_max`` times (the
stream's own delivery count, so attempts survive a consumer that died on it) it is kept
as a dead letter with the reason and acknowledged. Redis being unavailable is not the
entry's fault: that is retried by the loop and never counted against an entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import RedisError, ResponseError

from hub.infra import metrics
from hub.infra.isolation import Entry, Handler, Isolation, Poison, text

log = logging.getLogger(__name__)


RECLAIM_PAGES_MAX = 100  # per round, so a huge backlog cannot hold the loop
RECLAIM_EVERY_MAX_S = 5.0
ERROR_BACKOFF_MAX_S = 5.0  # waiting for Redis to come back: retry at least this often
PENDING_READ_COUNT = 10_000  # a consumer's own unacknowledged entries: a batch or two at most

# XACK and XDEL in one call: one round trip and no pipeline to build (Valkey has no XACKDEL).
_ACK_AND_DELETE = """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
"""


def consumer_name() -> str:
    """Unique per process, readable in ``XINFO CONSUMERS``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class GroupConsumer(Isolation):
    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        *,
        reclaim_idle_ms: int,
        name: str | None = None,
        read_count: int = 200,
        poison: Poison | None = None,
        take_over_at_start: bool = False,
        linger_ms: int = 0,
    ) -> None:
        """``linger_ms``: after a batch shorter than ``read_count``, wait this long before reading
        again, so that the next batch holds what arrived meanwhile: each batch costs several round
        trips, so a few entries per batch instead of one cut the CPU per entry (the entries wait
        up to this much longer)."""
        self.redis = redis
        self.stream = stream
        self.group = group
        self.reclaim_idle_ms = reclaim_idle_ms
        self.name = name or consumer_name()
        self.read_count = read_count
        self.poison = poison
        self.take_over_at_start = take_over_at_start
        self.linger_s = linger_ms / 1000
        self._ack_and_delete = redis.register_script(_ACK_AND_DELETE)

    async def ensure_group(self, start_id: str = "0") -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(
        self,
        stop: asyncio.Event,
        handle: Handler,
        *,
        block_ms: int = 1000,
        error_backoff_s: float = 1.0,
    ) -> None:
        """Handle new entries until ``stop`` is set, and abandoned ones as soon as they count as such."""
        reclaim_every_s = min(RECLAIM_EVERY_MAX_S, self.reclaim_idle_ms / 1000)
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time()
        own_pending = True  # at start and after an error: what this consumer holds, before anything new
        starting = self.take_over_at_start
        failures = 0
        while not stop.is_set():
            try:
                if own_pending:
                    await self.ensure_group()  # Redis may have come back without it
                if starting:
                    await self.reclaim(handle, min_idle_ms=0)  # a killed predecessor's, in order
                    starting = False
                if own_pending:
                    await self._handle_reclaimed(handle, await self.read(0, start_id="0"))
                    own_pending = False
                if loop.time() >= next_reclaim:
                    await self.reclaim(handle)
                    next_reclaim = loop.time() + reclaim_every_s
                entries = await self.read(block_ms)
                await self.handle_isolated(handle, entries)
                failures = 0
                if self.linger_s and 0 < len(entries) < self.read_count:
                    await asyncio.sleep(self.linger_s)  # batching, not synchronizing; bounded
            except (RedisError, OSError) as exc:
                failures += 1
                wait_s = min(error_backoff_s * 2 ** (failures - 1), ERROR_BACKOFF_MAX_S)
                log.warning("%s: Redis error, retrying in %.1f s: %s", self.group, wait_s, exc)
                own_pending = True  # a batch in hand was not acknowledged: handle it again first
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait_s)

    async def read(self, block_ms: int, start_id: str = ">") -> list[Entry]:
        """New entries for this consumer, waiting up to ``block_ms`` for the first; with
        ``start_id="0"``, the ones it read before and has not acknowledged (no wait).

        With a :class:`Poison`, entries are read undecoded and an entry that is not valid text
        (another writer's bytes) is dead-lettered at once: no retry could decode it.
        """
        new = start_id == ">"
        count = self.read_count if new else PENDING_READ_COUNT
        if self.poison is None:
            reply = await self.redis.xreadgroup(
                self.group, self.name, {self.stream: start_id}, count=count, block=block_ms if new else None
            )
            return await self._present([entry for _, entries in reply or [] for entry in entries])
        wait = ["BLOCK", block_ms] if new else []
        raw = await self.redis.execute_command(
            "XREADGROUP", "GROUP", self.group, self.name, "COUNT", count, *wait,
            "STREAMS", self.stream, start_id, **{NEVER_DECODE: True},
        )  # fmt: skip
        present = await self._present([entry for _, entries in raw or [] for entry in entries])
        return await self._decoded(present)

    async def _present(self, entries: list[Any]) -> list[Any]:
        """Entries still in the stream; pending ones trimmed away meanwhile are acknowledged."""
        gone = [text(entry_id) for entry_id, fields in entries if fields is None]
        if gone:
            await self.ack(gone)
        return [entry for entry in entries if entry[1] is not None]

    async def reclaim(self, handle: Handler, min_idle_ms: int | None = None) -> int:
        """Take over and handle entries other consumers read but never acknowledged (idle for
        ``min_idle_ms``, by default ``reclaim_idle_ms``)."""
        idle_ms = self.reclaim_idle_ms if min_idle_ms is None else min_idle_ms
        start, total = "0-0", 0
        for _ in range(RECLAIM_PAGES_MAX):
            if self.poison is None:
                reply = await self.redis.xautoclaim(
                    self.stream,
                    self.group,
                    self.name,
                    min_idle_time=idle_ms,
                    start_id=start,
                    count=self.read_count,
                )
                start, entries = reply[0], [e for e in reply[1] if e and e[1] is not None]
            else:
                reply = await self.redis.execute_command(
                    "XAUTOCLAIM", self.stream, self.group, self.name, idle_ms, start,
                    "COUNT", self.read_count, **{NEVER_DECODE: True},
                )  # fmt: skip
                start = text(reply[0])
                entries = await self._decoded([e for e in reply[1] if e and e[1] is not None])
            await self._handle_reclaimed(handle, entries)
            total += len(entries)
            if start in ("0-0", b"0-0"):
                break
        if total:
            await metrics.inc(self.redis, "hub_stream_entries_reclaimed_total", by=total, group=self.group)
        return total

    async def ack(self, entry_ids: list[str], *, delete: bool = False) -> None:
        """Acknowledge handled entries; ``delete`` also removes them from the stream."""
        if not entry_ids:
            return
        if delete:
            await self._ack_and_delete(keys=[self.stream], args=[self.group, *entry_ids])
        else:
            await self.redis.xack(self.stream, self.group, *entry_ids)


__all__ = ["Entry", "GroupConsumer", "Handler", "Poison", "consumer_name"]
