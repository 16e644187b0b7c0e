"""The due-time index: which shipment to poll when (sorted set, score = due time in ms)."""

from __future__ import annotations

from typing import Any

import redis as sync_redis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hub import keys
from hub.model.status import TERMINAL
from hub.settings import Settings
from hub.streams import delays

# Claim up to ARGV[2] shipments due by ARGV[1] and lease them until ARGV[3], atomically:
# a second scheduler running the same script at the same moment finds them not due.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], due[i])
end
return due
"""


async def add(redis: Redis, shipment_id: str, due_ms: int = 0) -> None:
    await redis.zadd(keys.POLL_DUE, {shipment_id: due_ms})


async def reschedule(redis: Redis, shipment_id: str, due_ms: int) -> None:
    """Set the next due time, unless the shipment left the index meanwhile (stopped)."""
    await redis.zadd(keys.POLL_DUE, {shipment_id: due_ms}, xx=True)


def reschedule_in(pipe: Pipeline, shipment_id: str, due_ms: int) -> None:
    """:func:`reschedule`, queued on a pipeline to share a round trip with other writes."""
    pipe.zadd(keys.POLL_DUE, {shipment_id: due_ms}, xx=True)


async def remove(redis: Redis, shipment_id: str) -> None:
    await redis.zrem(keys.POLL_DUE, shipment_id)


async def due_at(redis: Redis, shipment_id: str) -> int | None:
    score = await redis.zscore(keys.POLL_DUE, shipment_id)
    return int(score) if score is not None else None


def backfill(redis: sync_redis.Redis, scan_count: int = 1000, settings: Settings | None = None) -> int:
    """Put every tracked, unfinished shipment the index misses in it, due now; returns how many.

    Shipments registered before the index existed (or while it was lost) would otherwise
    never be polled. Due times already in the index are kept (``NX``), so running this on
    every scheduler start is safe.
    """
    added, found = 0, []
    for key in redis.scan_iter(match=keys.shipment("*"), count=scan_count):
        found.append(_text(key))
        if len(found) >= scan_count:
            added, found = added + _add_missing(redis, found, settings), []
    return added + _add_missing(redis, found, settings)


def _add_missing(redis: sync_redis.Redis, shipment_keys: list[str], settings: Settings | None = None) -> int:
    """Index the tracked, unfinished shipments the poll index misses; with ``settings``, their ETAs too."""
    pipe = redis.pipeline(transaction=False)
    for key in shipment_keys:
        pipe.hmget(key, ["tracking", "status", "eta", "provider"])
    polled, late = [], {}
    for key, (tracking, status, eta, provider) in zip(shipment_keys, pipe.execute(), strict=True):
        if _text(tracking or "1") == "1" and _text(status or "") not in TERMINAL:
            polled.append(keys.shipment_id_of(key))
            if eta and provider and settings is not None:  # the delay index, lost or older
                grace_s = settings.delay_grace(_text(provider))
                late[keys.shipment_id_of(key)] = delays.due_ms(_text(eta), grace_s)
    if late:
        redis.zadd(keys.DELAY_DUE, late, nx=True)
    return int(redis.zadd(keys.POLL_DUE, dict.fromkeys(polled, 0), nx=True)) if polled else 0


class Claimer:
    """The scheduler's side: claims due shipments with a synchronous client (RQ is synchronous)."""

    def __init__(self, redis: sync_redis.Redis, key: str = keys.POLL_DUE) -> None:
        self.script: Any = redis.register_script(_CLAIM)
        self.key = key  # the poll index, or hub:delay:due for the delay checks (hub/streams/delays.py)

    def claim(self, now_ms: int, limit: int, lease_ms: int) -> list[tuple[str, int]]:
        """Up to ``limit`` due shipments with their due times, leased until ``now_ms + lease_ms``."""
        flat = self.script(keys=[self.key], args=[now_ms, limit, now_ms + lease_ms])
        return [(_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
