"""Deliveries: one event for one endpoint, its queue position, attempts and outcome.

A delivery waits in its *lane* (one per endpoint and shipment, ordered by the event's
``sequence``); only a lane's head is in the due set, so a later event of a shipment
waits while an earlier one is retried, and nothing else does. Workers *claim* due
deliveries under a lease (a crashed worker's deliveries come back when it runs out) and
within each endpoint's throttle; *finishing* a delivery moves its lane on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound

THROTTLE_RECHECK_MS = 100  # an endpoint at its in-flight limit is looked at again this much later

_CREATE = """
local delivery, listing, lane, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, member, sequence = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now_ms, oldest_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', delivery) == 1 then return 0 end
redis.call('HSET', delivery, unpack(ARGV, 6))
redis.call('ZADD', listing, now_ms, id)
redis.call('ZREMRANGEBYSCORE', listing, '-inf', oldest_ms)
redis.call('ZADD', lane, sequence, id)
if redis.call('ZCARD', lane) == 1 then redis.call('ZADD', due, now_ms, member) end
return 1
"""

_CLAIM = """
local due = KEYS[1]
local now_ms, limit, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_in_flight, max_per_s = tonumber(ARGV[4]), tonumber(ARGV[5])
local in_flight_key, rate_key, recheck_ms = ARGV[6], ARGV[7], tonumber(ARGV[8])
local claimed = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now_ms, 'LIMIT', 0, limit)) do
  local endpoint, id = string.match(member, '^([^/]+)/(.+)$')
  local in_flight = string.format(in_flight_key, endpoint)
  redis.call('ZREMRANGEBYSCORE', in_flight, '-inf', now_ms)
  local second = math.floor(now_ms / 1000)
  local rate = string.format(rate_key, endpoint) .. ':' .. second
  if max_in_flight > 0 and redis.call('ZCARD', in_flight) >= max_in_flight then
    redis.call('ZADD', due, now_ms + recheck_ms, member)
  elseif max_per_s > 0 and tonumber(redis.call('GET', rate) or '0') >= max_per_s then
    redis.call('ZADD', due, (second + 1) * 1000, member)
  else
    redis.call('INCR', rate)
    redis.call('PEXPIRE', rate, 2000)
    redis.call('ZADD', in_flight, now_ms + lease_ms, id)
    redis.call('ZADD', due, now_ms + lease_ms, member)
    claimed[#claimed + 1] = member
  end
end
return claimed
"""

_FINISH = """
local due, in_flight, lane, delivery, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local endpoint, id, outcome = ARGV[1], ARGV[2], ARGV[3]
local next_ms, now_ms, retention_s = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local member = endpoint .. '/' .. id
redis.call('ZREM', in_flight, id)
if redis.call('EXISTS', delivery) == 0 then
  redis.call('ZREM', due, member)
  redis.call('ZREM', lane, id)
  return 0
end
if #ARGV > 6 then redis.call('HSET', delivery, unpack(ARGV, 7)) end
if outcome == 'retry' then
  redis.call('ZADD', due, next_ms, member)
  return 1
end
redis.call('ZREM', due, member)
redis.call('ZREM', lane, id)
redis.call('EXPIRE', delivery, retention_s)
redis.call('EXPIRE', attempts, retention_s)
local following = redis.call('ZRANGE', lane, 0, 0)[1]
if following then redis.call('ZADD', due, now_ms, endpoint .. '/' .. following) end
return 1
"""

_REQUEUE = """
local due, lane, delivery, attempts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local endpoint, id, sequence, now_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local member = endpoint .. '/' .. id
if redis.call('EXISTS', delivery) == 0 then return 0 end
local done = redis.call('HGET', delivery, 'attempts')
redis.call('HSET', delivery, 'status', 'pending', 'cycle_start', done, 'next_attempt_ms', now_ms)
redis.call('PERSIST', delivery)
redis.call('PERSIST', attempts)
redis.call('ZADD', lane, sequence, id)
if redis.call('ZCARD', lane) == 1 or redis.call('ZSCORE', due, member) then
  redis.call('ZADD', due, now_ms, member)
end
return 1
"""


class Status(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its endpoint was deleted


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    merchant_id: str
    event_id: str
    event_type: str
    lane: str
    sequence: int
    event: str  # the CloudEvent JSON, sent byte for byte on every attempt
    status: Status
    attempts: int
    cycle_start: int  # attempts made before the last manual retry or recovery
    created_ms: int
    next_attempt_ms: int | None = None
    last_status: int | None = None
    last_error: str | None = None
    completed_ms: int | None = None

    @property
    def member(self) -> str:
        return f"{self.endpoint_id}/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "shipment_id": None if self.lane.startswith("delivery:") else self.lane,
            "sequence": self.sequence,
            "status": self.status.value,
            "attempts": self.attempts,
            "created_ms": self.created_ms,
            "next_attempt_ms": self.next_attempt_ms if self.status is Status.PENDING else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "completed_ms": self.completed_ms,
        }


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """Deterministic, so an event handled twice (a reclaimed stream entry) is delivered once."""
    return "msg_" + hashlib.sha256(f"{endpoint_id}\x1f{event_id}".encode()).hexdigest()[:32]


def now_ms() -> int:
    return int(time.time() * 1000)


class Deliveries:
    """The delivery queue in Redis; all state changes go through its scripts."""

    def __init__(self, redis: Redis, retention_s: int) -> None:
        self.redis = redis
        self.retention_s = retention_s
        self._create = redis.register_script(_CREATE)
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._requeue = redis.register_script(_REQUEUE)
        self._finishing: list[tuple[tuple[str, str | None, list[str], list[Any]], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def create_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Create deliveries for ``(endpoint_id, merchant_id, event)``; returns how many were new."""
        if not items:
            return 0
        created = now_ms()
        pipe = self.redis.pipeline(transaction=False)
        for endpoint_id, merchant_id, event in items:
            await self._create_one(endpoint_id, merchant_id, event, created, pipe)
        return sum(await pipe.execute())

    async def create(self, endpoint_id: str, merchant_id: str, event: dict[str, Any]) -> str:
        await self.create_many([(endpoint_id, merchant_id, event)])
        return delivery_id(endpoint_id, event["id"])

    async def _create_one(
        self, endpoint_id: str, merchant_id: str, event: dict[str, Any], created_ms: int, client: Any
    ) -> None:
        ident = delivery_id(endpoint_id, event["id"])
        lane = event.get("partitionkey") or f"delivery:{ident}"
        sequence = int(event.get("sequence") or 0)
        fields = {
            "id": ident,
            "endpoint_id": endpoint_id,
            "merchant_id": merchant_id,
            "event_id": event["id"],
            "event_type": event["type"],
            "lane": lane,
            "sequence": sequence,
            "event": json.dumps(event, separators=(",", ":"), ensure_ascii=False),
            "status": Status.PENDING.value,
            "attempts": 0,
            "cycle_start": 0,
            "created_ms": created_ms,
            "next_attempt_ms": created_ms,
        }
        await self._create(
            keys=[
                keys.webhook_delivery(ident),
                keys.webhook_endpoint_deliveries(endpoint_id),
                keys.webhook_lane(endpoint_id, lane),
                keys.WEBHOOK_DUE,
            ],
            args=[
                ident,
                f"{endpoint_id}/{ident}",
                sequence,
                created_ms,
                created_ms - self.retention_s * 1000,
                *[part for pair in fields.items() for part in pair],
            ],
            client=client,
        )

    async def claim(self, limit: int, lease_s: float, max_in_flight: int, max_per_s: int) -> list[str]:
        """Up to ``limit`` due deliveries (``endpoint_id/delivery_id``) within each endpoint's throttle."""
        claimed: list[str] = await self._claim(
            keys=[keys.WEBHOOK_DUE],
            args=[
                now_ms(),
                limit,
                int(lease_s * 1000),
                max_in_flight,
                max_per_s,
                keys.webhook_in_flight("%s"),
                keys.webhook_rate("%s"),
                THROTTLE_RECHECK_MS,
            ],
        )
        return claimed

    async def next_due_ms(self) -> int | None:
        head = await self.redis.zrange(keys.WEBHOOK_DUE, 0, 0, withscores=True)
        return int(head[0][1]) if head else None

    async def finish(
        self,
        delivery: Delivery,
        *,
        retry_at_ms: int | None,
        attempt: dict[str, Any] | None = None,
        **fields: str | int,
    ) -> None:
        """Record an attempt and its outcome: retry at ``retry_at_ms``, or move the lane on.

        Finishes that arrive while one is being written go together in the next round
        trip (group commit), so a busy worker spends one round trip per batch, not each.
        """
        script_keys = [
            keys.WEBHOOK_DUE,
            keys.webhook_in_flight(delivery.endpoint_id),
            keys.webhook_lane(delivery.endpoint_id, delivery.lane),
            keys.webhook_delivery(delivery.id),
            keys.webhook_attempts(delivery.id),
        ]
        script_args = [
            delivery.endpoint_id,
            delivery.id,
            "retry" if retry_at_ms is not None else "done",
            retry_at_ms or 0,
            now_ms(),
            self.retention_s,
            *[part for pair in fields.items() for part in pair],
        ]
        record = json.dumps(attempt) if attempt is not None else None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing.append(((delivery.id, record, script_keys, script_args), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_finishes())
        await future

    async def _write_finishes(self) -> None:
        while self._finishing:
            batch, self._finishing = self._finishing, []
            pipe = self.redis.pipeline(transaction=True)
            for (ident, record, script_keys, script_args), _ in batch:
                if record is not None:
                    pipe.rpush(keys.webhook_attempts(ident), record)
                await self._finish(keys=script_keys, args=script_args, client=pipe)
            try:
                await pipe.execute()
            except Exception as exc:  # every waiter learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def requeue(self, delivery: Delivery) -> None:
        """Send again (manual retry or recovery): a fresh schedule, the same ``webhook-id``."""
        await self._requeue(
            keys=[
                keys.WEBHOOK_DUE,
                keys.webhook_lane(delivery.endpoint_id, delivery.lane),
                keys.webhook_delivery(delivery.id),
                keys.webhook_attempts(delivery.id),
            ],
            args=[delivery.endpoint_id, delivery.id, delivery.sequence, now_ms()],
        )

    async def get(self, ident: str, merchant_id: str | None = None) -> Delivery:
        raw = await self.redis.hgetall(keys.webhook_delivery(ident))
        if not raw or (merchant_id is not None and raw["merchant_id"] != merchant_id):
            raise NotFound(f"delivery {ident} does not exist")
        return _parse(raw)

    async def get_many(self, idents: list[str]) -> list[Delivery]:
        pipe = self.redis.pipeline(transaction=False)
        for ident in idents:
            pipe.hgetall(keys.webhook_delivery(ident))
        return [_parse(raw) for raw in await pipe.execute() if raw]

    async def attempts(self, ident: str) -> list[dict[str, Any]]:
        return [json.loads(item) for item in await self.redis.lrange(keys.webhook_attempts(ident), 0, -1)]

    async def page(
        self, endpoint_id: str, *, limit: int, before_ms: int | None = None, status: str | None = None
    ) -> tuple[list[Delivery], int | None]:
        """Newest first; the cursor is the creation time to continue below."""
        found: list[Delivery] = []
        upper: str = f"({before_ms}" if before_ms is not None else "+inf"
        while len(found) < limit:
            idents = await self.redis.zrevrangebyscore(
                keys.webhook_endpoint_deliveries(endpoint_id), upper, "-inf", start=0, num=limit * 2
            )
            if not idents:
                return found, None
            batch = await self.get_many(idents)
            found += [d for d in batch if status is None or d.status.value == status]
            upper = f"({batch[-1].created_ms}" if batch else upper
            if len(idents) < limit * 2:
                break
        if len(found) > limit:
            found = found[:limit]
            return found, found[-1].created_ms
        return found, None

    async def in_range(self, endpoint_id: str, since_ms: int, until_ms: int) -> list[Delivery]:
        idents = await self.redis.zrangebyscore(
            keys.webhook_endpoint_deliveries(endpoint_id), since_ms, until_ms
        )
        return await self.get_many(idents)

    async def forget(self, member: str) -> None:
        """Drop a due entry whose delivery no longer exists (expired or its endpoint deleted)."""
        endpoint_id, _, ident = member.partition("/")
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(keys.WEBHOOK_DUE, member)
        pipe.zrem(keys.webhook_in_flight(endpoint_id), ident)
        await pipe.execute()

    async def wake_endpoint(self, endpoint_id: str) -> None:
        """Make an endpoint's waiting deliveries due now (after a resume)."""
        now = now_ms()
        async for member, _ in self.redis.zscan_iter(keys.WEBHOOK_DUE, match=f"{endpoint_id}/*"):
            await self.redis.zadd(keys.WEBHOOK_DUE, {member: now}, xx=True)


def _parse(raw: dict[str, str]) -> Delivery:
    def optional(name: str) -> int | None:
        return int(raw[name]) if raw.get(name) else None

    return Delivery(
        id=raw["id"],
        endpoint_id=raw["endpoint_id"],
        merchant_id=raw["merchant_id"],
        event_id=raw["event_id"],
        event_type=raw["event_type"],
        lane=raw["lane"],
        sequence=int(raw["sequence"]),
        event=raw["event"],
        status=Status(raw["status"]),
        attempts=int(raw["attempts"]),
        cycle_start=int(raw.get("cycle_start") or 0),
        created_ms=int(raw["created_ms"]),
        next_attempt_ms=optional("next_attempt_ms"),
        last_status=optional("last_status"),
        last_error=raw.get("last_error") or None,
        completed_ms=optional("completed_ms"),
    )
