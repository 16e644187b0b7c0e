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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import RedisError, ResponseError

from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, Any]]
Handler = Callable[[list[Entry]], Awaitable[None]]
# (entry, reason, salvage): salvage is True when handling raised (rather than killed its consumer),
# so handling parts of the entry once more, one by one, is safe.
Bury = Callable[[Entry, str, bool], Awaitable[None]]
KeepRaw = Callable[[Entry, str], Awaitable[None]]  # (entry, reason), fields possibly undecoded bytes


RECLAIM_PAGES_MAX = 100  # per round, so a huge backlog cannot hold the loop
RECLAIM_EVERY_MAX_S = 5.0
ERROR_BACKOFF_MAX_S = 5.0  # waiting for Redis to come back: retry at least this often
PENDING_READ_COUNT = 10_000  # a consumer's own unacknowledged entries: a batch or two at most

# XACK and XDEL in one call: one round trip and no pipeline to build (Valkey has no XACKDEL).
_ACK_AND_DELETE = """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
"""


@dataclass(frozen=True)
class Poison:
    """How a consumer isolates an entry whose handling keeps raising (see the module docstring)."""

    attempts_max: int
    # Keeps an entry's raw fields with the reason, whatever they hold (hub.ingest.deadletter.stream_keeper).
    keep_raw: KeepRaw
    # Keeps the entry its own way (payload by payload, say); None: keep_raw, as does its failure.
    bury: Bury | None = None
    delete: bool = False  # delete a buried entry from the stream as well as acknowledging it


def consumer_name() -> str:
    """Unique per process, readable in ``XINFO CONSUMERS``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class GroupConsumer:
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
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.reclaim_idle_ms = reclaim_idle_ms
        self.name = name or consumer_name()
        self.read_count = read_count
        self.poison = poison
        self.take_over_at_start = take_over_at_start
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
                await self.handle_isolated(handle, await self.read(block_ms))
                failures = 0
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
        gone = [_text(entry_id) for entry_id, fields in entries if fields is None]
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
                start = _text(reply[0])
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

    # --- poison isolation (only with a Poison) ---

    async def handle_isolated(
        self, handle: Handler, entries: list[Entry], delivered: dict[str, int] | None = None
    ) -> None:
        """``handle(entries)``; with a :class:`Poison`, one entry's exception costs that entry alone.

        ``delivered`` maps entry ids to their delivery counts (1, as read, when absent).
        """
        if self.poison is None or not entries:
            await handle(entries)
            return
        try:
            await handle(entries)
            return
        except UNAVAILABLE:
            raise
        except Exception as exc:
            failed = [(entries[0], exc)] if len(entries) == 1 else await self._one_by_one(handle, entries)
        for entry, error in failed:
            attempts = (delivered or {}).get(entry[0], 1)
            if attempts >= self.poison.attempts_max:
                await self._bury(
                    entry, f"handling failed {attempts} times, last with {error!r}", salvage=True
                )
            else:
                log.error(
                    "%s: entry %s failed (attempt %d of %d), retried when reclaimed after %d ms",
                    self.group,
                    entry[0],
                    attempts,
                    self.poison.attempts_max,
                    self.reclaim_idle_ms,
                    exc_info=error,
                )

    async def _one_by_one(self, handle: Handler, entries: list[Entry]) -> list[tuple[Entry, Exception]]:
        """Handle a batch that raised entry by entry, so its good entries are not held back."""
        failed: list[tuple[Entry, Exception]] = []
        for entry in entries:
            try:
                await handle([entry])
            except UNAVAILABLE:
                raise
            except Exception as exc:
                failed.append((entry, exc))
        return failed

    async def _handle_reclaimed(self, handle: Handler, entries: list[Entry]) -> None:
        if self.poison is None or not entries:
            await handle(entries)
            return
        delivered = await self.delivery_counts([entry_id for entry_id, _ in entries])
        live: list[Entry] = []
        for entry in entries:
            attempts = delivered.get(entry[0], 1)
            if attempts > self.poison.attempts_max:  # consumers died handling it, not one raised
                reason = f"delivered {attempts} times and never acknowledged: its consumers stopped on it"
                await self._bury(entry, reason, salvage=False)
            else:
                live.append(entry)
        await self.handle_isolated(handle, live, delivered)

    async def delivery_counts(self, entry_ids: list[str]) -> dict[str, int]:
        """How many times each pending entry was delivered (``XPENDING``), counting this delivery."""
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in entry_ids:
            pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        counts: dict[str, int] = {}
        for rows in await pipe.execute():
            for row in rows:
                counts[_text(row["message_id"])] = int(row["times_delivered"])
        return counts

    async def _decoded(self, raw: list[Any]) -> list[Entry]:
        """Entries as the client would decode them; undecodable ones are dead-lettered and acknowledged."""
        encoder = self.redis.get_encoder()
        if not encoder.decode_responses:
            return [(_text(entry_id), fields) for entry_id, fields in raw]
        entries: list[Entry] = []
        for entry_id, fields in raw:
            try:
                entries.append(
                    (_text(entry_id), {encoder.decode(k): encoder.decode(v) for k, v in fields.items()})
                )
            except UnicodeDecodeError as exc:
                await self._bury(
                    (_text(entry_id), fields), f"not valid {encoder.encoding}: {exc}", salvage=False, raw=True
                )
        return entries

    async def _bury(self, entry: Entry, reason: str, *, salvage: bool, raw: bool = False) -> None:
        """Keep ``entry`` as a dead letter and acknowledge it; keeping it cannot fail on its content."""
        assert self.poison is not None
        log.error("%s: entry %s dead-lettered: %s", self.group, entry[0], reason)
        try:
            if self.poison.bury is None or raw:
                await self.poison.keep_raw(entry, reason)
            else:
                await self.poison.bury(entry, reason, salvage)
        except UNAVAILABLE:
            raise
        except Exception as exc:
            log.exception("%s: keeping entry %s failed; keeping its raw fields instead", self.group, entry[0])
            await self.poison.keep_raw(entry, f"{reason}; then keeping it failed with {exc!r}")
        await self.ack([entry[0]], delete=self.poison.delete)
        await metrics.inc(self.redis, "hub_poison_deadlettered_total", consumer=self.group)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
