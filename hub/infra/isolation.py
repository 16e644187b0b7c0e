"""Poison isolation for a stream consumer: one entry that keeps failing costs that entry alone.

See :mod:`hub.infra.group_consumer` for the contract; this is its mechanism, kept apart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, Any]]
Handler = Callable[[list[Entry]], Awaitable[None]]
# (entry, reason, salvage): salvage is True when handling raised (rather than killed its consumer),
# so handling parts of the entry once more, one by one, is safe.
Bury = Callable[[Entry, str, bool], Awaitable[None]]
KeepRaw = Callable[[Entry, str], Awaitable[None]]  # (entry, reason), fields possibly undecoded bytes


@dataclass(frozen=True)
class Poison:
    """How a consumer isolates an entry whose handling keeps raising (see the module docstring)."""

    attempts_max: int
    # Keeps an entry's raw fields with the reason, whatever they hold (hub.ingest.deadletter.stream_keeper).
    keep_raw: KeepRaw
    # Keeps the entry its own way (payload by payload, say); None: keep_raw, as does its failure.
    bury: Bury | None = None
    delete: bool = False  # delete a buried entry from the stream as well as acknowledging it


class Isolation:
    """The isolating half of :class:`~hub.infra.group_consumer.GroupConsumer`."""

    redis: Redis
    stream: str
    group: str
    reclaim_idle_ms: int
    poison: Poison | None

    async def ack(self, entry_ids: list[str], *, delete: bool = False) -> None:
        raise NotImplementedError

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
                counts[text(row["message_id"])] = int(row["times_delivered"])
        return counts

    async def _decoded(self, raw: list[Any]) -> list[Entry]:
        """Entries as the client would decode them; undecodable ones are dead-lettered and acknowledged."""
        encoder = self.redis.get_encoder()
        if not encoder.decode_responses:
            return [(text(entry_id), fields) for entry_id, fields in raw]
        entries: list[Entry] = []
        for entry_id, fields in raw:
            try:
                entries.append(
                    (text(entry_id), {encoder.decode(k): encoder.decode(v) for k, v in fields.items()})
                )
            except UnicodeDecodeError as exc:
                await self._bury(
                    (text(entry_id), fields), f"not valid {encoder.encoding}: {exc}", salvage=False, raw=True
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


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
