"""Appending events to Redis streams: atomic, idempotent, and batched.

One Lua script per event does everything that must happen together in the shipment's
slot: drop a change already recorded, assign the next ``sequence``, move the current
status forward (never backwards: an older event is recorded but marked ``stale``),
append to the shipment's history and put the entry in the shipment's outbox. The event
is then added to the global stream and taken out of the outbox. Should the process die
between the two, the entry's outbox lease runs out and the next sighting of the same
change publishes it (``republish``), so nothing reaches the history without reaching
``hub:events``.

Concurrent requests share round trips: :class:`Store` collects the appends that arrive
while a write is in flight and sends them together in one pipeline (group commit).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.events import split_for_append
from hub.settings import Settings

_APPEND = """
local shipment, history, seen, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, head, body, etype = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local time_ms, status = tonumber(ARGV[5]), ARGV[6]
local now_ms, lease_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
local location, courier, eta, merchant_ref = ARGV[9], ARGV[10], ARGV[11], ARGV[12]

local known = redis.call('HGET', seen, id)
if known then
  local lease = redis.call('ZSCORE', outbox, known)
  if lease and tonumber(lease) <= now_ms then
    redis.call('ZADD', outbox, now_ms + lease_ms, known)
    local found = redis.call('XRANGE', history, known, known)
    return {'republish', known, found[1][2][2]}
  end
  return {'duplicate', known}
end

local sequence = redis.call('HINCRBY', shipment, 'sequence', 1)
local previous = redis.call('HGET', shipment, 'status')
local stale = 'false'
if etype == 'shipment.status_changed' then
  local current_ms = tonumber(redis.call('HGET', shipment, 'status_time_ms') or '-1')
  if time_ms >= current_ms then
    redis.call('HSET', shipment, 'status', status, 'status_time_ms', time_ms)
  else
    stale = 'true'
  end
elseif etype == 'shipment.location_updated' and location ~= '' then
  local current_ms = tonumber(redis.call('HGET', shipment, 'location_time_ms') or '-1')
  if time_ms >= current_ms then
    redis.call('HSET', shipment, 'location', location, 'location_time_ms', time_ms)
  end
end
local latest_ms = tonumber(redis.call('HGET', shipment, 'last_event_ms') or '-1')
if time_ms >= latest_ms then
  redis.call('HSET', shipment, 'last_event_ms', time_ms)
  if courier ~= '' then redis.call('HSET', shipment, 'courier', courier) end
  if eta ~= '' then redis.call('HSET', shipment, 'eta', eta) end
end
if merchant_ref ~= '' then redis.call('HSETNX', shipment, 'merchant_ref', merchant_ref) end
redis.call('HSET', shipment, 'updated_ms', now_ms)

local previous_json = 'null'
if previous then previous_json = '"' .. previous .. '"' end
local event = head .. ',"sequence":' .. sequence .. ',"data":' .. body ..
  ',"previous_status":' .. previous_json .. ',"stale":' .. stale .. '}}'
local entry = redis.call('XADD', history, '*', 'event', event, 'id', id, 'type', etype, 'sequence', sequence)
redis.call('HSET', seen, id, entry)
redis.call('ZADD', outbox, now_ms + lease_ms, entry)
return {'new', entry, event}
"""


@dataclass(frozen=True)
class Appended:
    """What became of one event: ``new``, ``duplicate`` (already recorded) or ``republish``."""

    event_id: str
    shipment_id: str
    outcome: str
    event: dict[str, Any] | None = None

    @property
    def published(self) -> bool:
        return self.outcome in ("new", "republish")


class Store:
    """Appends CloudEvents (as built by :func:`hub.events.build`) to the streams."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._script = redis.register_script(_APPEND)
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[list[Appended]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, events: list[dict[str, Any]]) -> list[Appended]:
        """Append ``events`` (in order); returns once they are on both streams."""
        if not events:
            return []
        future: asyncio.Future[list[Appended]] = asyncio.get_running_loop().create_future()
        self._pending.append((events, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([event for events, _ in batch for event in events])
            except Exception as exc:  # every waiter learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            offset = 0
            for events, future in batch:
                if not future.done():
                    future.set_result(results[offset : offset + len(events)])
                offset += len(events)

    async def _write(self, events: list[dict[str, Any]]) -> list[Appended]:
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            await self._script(
                keys=keys.shipment_keys(event["partitionkey"]),
                args=_args(event, now_ms, self.settings.outbox_lease_ms),
                client=pipe,
            )
        replies = await pipe.execute()

        results: list[Appended] = []
        publish = self.redis.pipeline(transaction=False)
        for event, reply in zip(events, replies, strict=True):
            outcome, entry = _text(reply[0]), _text(reply[1])
            shipment_id = event["partitionkey"]
            if outcome == "duplicate":
                results.append(Appended(event["id"], shipment_id, outcome))
                continue
            text = _text(reply[2])
            publish.xadd(
                keys.EVENTS, {"event": text, "shipment": shipment_id, "type": event["type"]}, **self._trim()
            )
            publish.zrem(keys.outbox(shipment_id), entry)
            results.append(Appended(event["id"], shipment_id, outcome, json.loads(text)))
        if len(publish):
            await publish.execute()
        return results

    def _trim(self) -> dict[str, Any]:
        if self.settings.stream_max_age_s > 0:
            oldest_ms = int(time.time() * 1000) - self.settings.stream_max_age_s * 1000
            return {"minid": oldest_ms, "approximate": True}
        return {"maxlen": self.settings.stream_maxlen, "approximate": True}


def _args(event: dict[str, Any], now_ms: int, lease_ms: int) -> list[Any]:
    data = event["data"]
    head, body = split_for_append(event)
    time_ms = _epoch_ms(event["time"])
    return [
        event["id"],
        head,
        body,
        event["type"],
        time_ms,
        data.get("status") or "",
        now_ms,
        lease_ms,
        json.dumps(data["location"]) if data.get("location") else "",
        json.dumps(data["courier"]) if data.get("courier") else "",
        data.get("eta") or "",
        data.get("merchant_ref") or "",
    ]


def _epoch_ms(rfc3339: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
