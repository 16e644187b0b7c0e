"""Appending events to Redis streams: atomic, idempotent, and batched.

One Lua script per shipment does everything that must happen together: drop a change
already recorded, assign the next ``sequence``, move the current status forward (never
backwards: an older event is recorded but marked ``stale``), append to the shipment's
history, and publish to ``hub:events``. On one server that is a single atomic step.

On a Redis Cluster ``hub:events`` lives in another slot than the shipment, so the script
puts the entry in the shipment's outbox instead, and the caller adds it to the global
stream and takes it out of the outbox. Should the process die between the two, the
entry's outbox lease runs out and the next sighting of the same change publishes it
(``republish``), so nothing reaches a history without reaching ``hub:events``.

Concurrent requests share round trips: :class:`Store` collects the appends that arrive
while a write is in flight and sends them together in one pipeline (:mod:`hub.batching`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from hub import keys
from hub.infra.group_commit import GroupCommit
from hub.infra.lru import LRU
from hub.infra.redis_clients import run_scripts
from hub.model.event import ORDERING, CloudEvent, split_for_append
from hub.settings import Settings

_APPEND = """
local shipment, history, seen, outbox, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now_ms, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local shipment_id, trim_kind, trim_value = ARGV[3], ARGV[4], ARGV[5]
local merchant_id, provider = ARGV[6], ARGV[7]  -- beside each event on hub:events, for routing
local TERMINAL = {delivered = true, returned = true, cancelled = true, expired = true}  -- hub.statuses

-- Whether the shipment's current code is one of ``codes`` (the flow's codes a change may not follow).
local function current_in(codes, current_code)
  if codes == '' or not current_code then return false end
  for code in string.gmatch(codes, '[^\\31]+') do
    if code == current_code then return true end
  end
  return false
end

local function append(id, head, body, etype, time_ms, status, location, courier, eta, merchant_ref, code,
                      undated, cannot_follow)
  local known = redis.call('HGET', seen, id)
  if known then
    local lease = redis.call('ZSCORE', outbox, known)
    if lease and tonumber(lease) <= now_ms then
      redis.call('ZADD', outbox, now_ms + lease_ms, known)
      local found = redis.call('XRANGE', history, known, known)
      return 'republish', known, found[1][2][2]
    end
    return 'duplicate', known, ''
  end

  -- shipment.delayed is the hub's verdict on the state right now: void once the shipment
  -- finished or its ETA moved (a delivery racing the delay checker wins).
  if etype == 'shipment.delayed' then
    local now_status = redis.call('HGET', shipment, 'status')
    if TERMINAL[now_status or ''] or redis.call('HGET', shipment, 'eta') ~= eta then
      return 'void', '', ''
    end
  end

  -- A status the shipment is already in is no change, whatever time a channel gives it
  -- (HLD's tracking response and its Pusher event can date the same change differently).
  local is_status = etype == 'shipment.status_changed'
  if is_status and code ~= '' and code == redis.call('HGET', shipment, 'status_code') then
    local current = redis.call('HGET', shipment, 'status_entry')
    redis.call('HSET', seen, id, current)
    -- The same change, dated this time (a push after the poll that saw it undated): keep its time.
    if undated ~= '1' and redis.call('HGET', shipment, 'status_undated') == '1'
        and time_ms >= tonumber(redis.call('HGET', shipment, 'status_time_ms') or '-1') then
      redis.call('HSET', shipment, 'status_time_ms', time_ms, 'status_undated', '')
    end
    return 'duplicate', current, ''
  end

  local sequence = redis.call('HINCRBY', shipment, 'sequence', 1)
  local previous = redis.call('HGET', shipment, 'status')
  local stale, applied = 'false', false
  if is_status then
    -- Dated changes are ordered by time. An undated one (time_ms is only a lower bound) is
    -- ordered by the provider's flow: it applies unless the current code is one it cannot
    -- follow, and takes the current status time if that is later. A dated change after an
    -- undated current status must pass both tests. (docs/ordering.md)
    local current_ms = tonumber(redis.call('HGET', shipment, 'status_time_ms') or '-1')
    local current_code = redis.call('HGET', shipment, 'status_code')
    local behind = current_in(cannot_follow, current_code)
    if undated == '1' then
      applied = not behind
      if time_ms < current_ms then time_ms = current_ms end
    else
      applied = time_ms >= current_ms
      if behind and redis.call('HGET', shipment, 'status_undated') == '1' then applied = false end
    end
    if applied then
      redis.call('HSET', shipment, 'status', status, 'status_time_ms', time_ms, 'status_code', code,
        'status_undated', undated)
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
  if time_ms >= latest_ms and etype ~= 'shipment.delayed' then  -- the hub's verdict is no news
    redis.call('HSET', shipment, 'last_event_ms', time_ms)
    if courier ~= '' then redis.call('HSET', shipment, 'courier', courier) end
    if eta ~= '' then redis.call('HSET', shipment, 'eta', eta) end
  end
  if merchant_ref ~= '' then redis.call('HSETNX', shipment, 'merchant_ref', merchant_ref) end

  local previous_json = 'null'
  if previous then previous_json = '"' .. previous .. '"' end
  local event = head .. ',"sequence":' .. sequence .. ',"data":' .. body ..
    ',"previous_status":' .. previous_json .. ',"stale":' .. stale .. '}}'
  local entry = redis.call('XADD', history, '*',
    'event', event, 'id', id, 'type', etype, 'sequence', sequence)
  redis.call('HSET', seen, id, entry)
  if applied then redis.call('HSET', shipment, 'status_entry', entry) end
  if events then  -- one server: publish in the same atomic step
    redis.call('XADD', events, trim_kind, '~', trim_value, '*', 'event', event, 'shipment', shipment_id,
      'type', etype, 'id', id, 'sequence', sequence, 'merchant', merchant_id, 'provider', provider)
  else  -- a cluster: hub:events is in another slot; the caller publishes, the outbox covers a crash
    redis.call('ZADD', outbox, now_ms + lease_ms, entry)
  end
  return 'new', entry, event
end

-- ARGV[8..] holds the shipment's events, FIELDS values each, appended in order.
local FIELDS = 13
local replies = {}
for i = 8, #ARGV, FIELDS do
  local outcome, entry, event = append(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]),
    ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], ARGV[i + 10], ARGV[i + 11], ARGV[i + 12])
  replies[#replies + 1] = outcome
  replies[#replies + 1] = entry
  replies[#replies + 1] = event
end
redis.call('HSET', shipment, 'updated_ms', now_ms)
return replies
"""


@dataclass(frozen=True)
class Appended:
    """What became of one event: ``new``, ``duplicate`` (already recorded), ``republish``, or ``void``.

    ``void``: a ``shipment.delayed`` no longer true when appended (finished, or the ETA moved).
    """

    event_id: str
    shipment_id: str
    outcome: str
    event_json: str | None = None
    provider: str = ""

    @property
    def published(self) -> bool:
        return self.outcome in ("new", "republish")

    @property
    def event(self) -> CloudEvent | None:
        """The CloudEvent as appended (with its sequence), for published events."""
        return json.loads(self.event_json) if self.event_json else None


class Store:
    """Appends CloudEvents (as built by :func:`hub.events.build`) to the streams."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._script = redis.register_script(_APPEND)
        self._commit: GroupCommit[CloudEvent, Appended] = GroupCommit(self._write)
        # Ids this process appended and published: a provider's resend of them needs no round trip.
        self._published: LRU[str, bool] = LRU(max_entries=200_000, ttl_s=3600)

    def published_here(self, event_id: str) -> bool:
        """Whether this process appended and published ``event_id`` recently (no round trip)."""
        return event_id in self._published

    async def append(self, events: list[CloudEvent]) -> list[Appended]:
        """Append ``events`` (in order); returns once they are on both streams.

        The caller skips what :meth:`published_here` knows (the ingest path does, before it
        even builds the event); the script drops any other change already recorded.
        """
        return await self._commit.submit(events) if events else []

    async def _write(self, events: list[CloudEvent]) -> list[Appended]:
        """One script call per shipment for all its events, one pipeline for them all."""
        now_ms = int(time.time() * 1000)
        inline = not isinstance(self.redis, RedisCluster)
        by_shipment: dict[str, list[CloudEvent]] = {}
        for event in events:
            by_shipment.setdefault(event["partitionkey"], []).append(event)
        calls = []
        for shipment_id, group in by_shipment.items():
            script_keys = keys.shipment_keys(shipment_id) + ([keys.EVENTS] if inline else [])
            data = group[0]["data"]
            args: list[Any] = [now_ms, self.settings.outbox_lease_ms, shipment_id, *self._trim()]
            args += [data["merchant_id"], data["provider"]]
            for event in group:
                args += _args(event)
            calls.append((script_keys, args))
        replies = await run_scripts(self.redis, [(self._script, k, a) for k, a in calls])

        outcomes: dict[str, Appended] = {}
        publish = self.redis.pipeline(transaction=False)
        for (shipment_id, group), reply in zip(by_shipment.items(), replies, strict=True):
            unpublished = []
            for event, (outcome, entry, text) in zip(group, _triples(reply), strict=True):
                # The script published a new event itself on one server; a republish never.
                if outcome == "republish" or (outcome == "new" and not inline):
                    fields = entry_fields(text, shipment_id, event)
                    trim_kind, trim_value = self._trim()
                    publish.xadd(keys.EVENTS, fields, approximate=True, **{trim_kind.lower(): trim_value})
                    unpublished.append(entry)
                provider = event["data"]["provider"]
                outcomes[event["id"]] = Appended(event["id"], shipment_id, outcome, text or None, provider)
            if unpublished:
                publish.zrem(keys.outbox(shipment_id), *unpublished)
        if len(publish):
            await publish.execute()
        results = [outcomes[event["id"]] for event in events]
        for appended in results:
            if appended.published:
                self._published.put(appended.event_id, True)
        return results

    def _trim(self) -> tuple[str, int]:
        """How hub:events is trimmed: by age when configured, else by length (both approximate)."""
        if self.settings.stream.max_age_s > 0:
            return "MINID", int(time.time() * 1000) - self.settings.stream.max_age_s * 1000
        return "MAXLEN", self.settings.stream.maxlen


def entry_fields(text: str, shipment_id: str, event: CloudEvent) -> dict[str, Any]:
    """A ``hub:events`` entry: the event's JSON, and beside it what consumers route on without parsing."""
    return {
        "event": text,
        "shipment": shipment_id,
        "type": event["type"],
        "id": event["id"],
        "sequence": json.loads(text)["sequence"],  # a republish or a cluster's publish: not the hot path
        "merchant": event["data"]["merchant_id"],
        "provider": event["data"]["provider"],
    }


def _args(event: CloudEvent) -> list[Any]:
    """The script's FIELDS values for one event."""
    data = event["data"]
    head, body = split_for_append(event)
    ordering = event.get(ORDERING)
    return [
        event["id"],
        head,
        body,
        event["type"],
        ordering["after_ms"] if ordering else _epoch_ms(event["time"]),
        data.get("status") or "",
        json.dumps(data["location"]) if data.get("location") else "",
        json.dumps(data["courier"]) if data.get("courier") else "",
        data.get("eta") or "",
        data.get("merchant_ref") or "",
        _code(event),
        "1" if ordering and ordering["undated"] else "",
        "\x1f".join(ordering["cannot_follow"]) if ordering else "",
    ]


def _triples(reply: list[Any]) -> list[tuple[str, str, str]]:
    items = [_text(value) for value in reply]
    return [(items[i], items[i + 1], items[i + 2]) for i in range(0, len(items), 3)]


def _code(event: CloudEvent) -> str:
    """The provider's status code of a status change, as the script compares it."""
    provider_status = event["data"]["provider_status"]
    code = provider_status["code"] if provider_status else None
    return "" if event["type"] != "shipment.status_changed" or code is None else f"{code}"


def _epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
