"""The delivery queue: where each delivery waits, who is sending it, and what comes next.

A delivery waits in its *lane* (one per endpoint and shipment, ordered by the event's
``sequence``); only a lane's head is in the due set, so a later event of a shipment
waits while an earlier one is retried, and nothing else does. Workers *claim* due
deliveries under a lease (a crashed worker's deliveries come back when it runs out) and
within each endpoint's throttle; *finishing* a delivery moves its lane on.

The queue is split into ``keys.WEBHOOK_PARTITIONS`` partitions; all of one endpoint's
keys live in its partition (one hash tag), so every script touches one Redis Cluster slot
and the partitions spread over the cluster's nodes. A claim looks at every partition's due
head in one round trip and claims from those with something due.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, NamedTuple

from hub import keys
from hub.errors import NotFound
from hub.infra.group_commit import GroupCommit
from hub.infra.redis_clients import is_cluster, run_scripts
from hub.ingest import poison
from hub.webhooks import queue_scripts
from hub.webhooks.delivery import Delivery, creation, delivery_id, now_ms, parse
from hub.webhooks.outgoing import Outgoing

FINISH_RETRY_BASE_S = 0.05
FINISH_RETRY_MAX_S = 2.0
THROTTLE_RECHECK_MS = 100  # an endpoint at its in-flight limit is looked at again this much later
PARTITIONS = range(keys.WEBHOOK_PARTITIONS)

log = logging.getLogger(__name__)

ScriptCall = tuple[Any, list[str], list[Any]]


class Claimed(NamedTuple):
    members: list[str]  # ``endpoint_id/delivery_id``, each now leased to the caller
    next_due_ms: int | None  # the earliest due time left in the queue, as the claim saw it


class Deliveries:
    """The delivery queue in Redis (a server or a cluster); all state changes go through its scripts."""

    def __init__(self, redis: Any, retention_s: int) -> None:
        self.redis = redis
        self.retention_s = retention_s
        self._create = redis.register_script(queue_scripts.CREATE)
        self._claim = redis.register_script(queue_scripts.CLAIM)
        self._finish = redis.register_script(queue_scripts.FINISH)
        self._requeue = redis.register_script(queue_scripts.REQUEUE)
        self._heads_script = redis.register_script(queue_scripts.HEADS)
        self._count_poison = redis.register_script(queue_scripts.COUNT_POISON)
        # Finishes that arrive while one is being written go together in the next round trip.
        self._finishes: GroupCommit[ScriptCall, BaseException | None] = GroupCommit(self._write_finishes)
        self._turn = 0  # the partition a claim starts at, in turn, so none is always served last

    async def create_many(self, items: list[tuple[str, str, Outgoing]]) -> int:
        """Create deliveries for ``(endpoint_id, merchant_id, event)``; returns how many were new."""
        created = now_ms()
        calls = [
            (self._create, *creation(endpoint_id, merchant_id, event, created, self.retention_s))
            for endpoint_id, merchant_id, event in items
        ]
        return sum(await run_scripts(self.redis, calls))

    async def create(self, endpoint_id: str, merchant_id: str, event: Outgoing) -> str:
        await self.create_many([(endpoint_id, merchant_id, event)])
        return delivery_id(endpoint_id, event.id)

    async def claim(self, limit: int, lease_s: float, max_in_flight: int, max_per_s: int) -> Claimed:
        """Up to ``limit`` due deliveries (``endpoint_id/delivery_id``) within each endpoint's throttle.

        The limit is shared among the partitions with something due; a partition that used
        its whole share may have more, so it gets a share of what is left (bounded: every
        round claims at least one delivery or ends).
        """
        now = now_ms()
        heads: dict[int, int | None] = dict(await self._heads())
        ready = [p for p, due_ms in heads.items() if due_ms is not None and due_ms <= now]
        self._turn = (self._turn + 1) % len(PARTITIONS)
        ready.sort(key=lambda p: (p - self._turn) % len(PARTITIONS))
        claimed: list[str] = []
        while ready and len(claimed) < limit:
            shares = _shares(limit - len(claimed), ready)
            args = [self._claim_args(share, lease_s, max_in_flight, max_per_s, p) for p, share in shares]
            calls: list[ScriptCall] = [
                (self._claim, [keys.webhook_due(p)], a) for (p, _), a in zip(shares, args, strict=True)
            ]
            replies = await run_scripts(self.redis, calls)
            for (partition, _), (head, *members) in zip(shares, replies, strict=True):
                claimed += members
                heads[partition] = int(float(head)) if head else None
            ready = [p for (p, share), reply in zip(shares, replies, strict=True) if len(reply) - 1 == share]
        return Claimed(claimed, min((ms for ms in heads.values() if ms is not None), default=None))

    @staticmethod
    def _claim_args(
        limit: int, lease_s: float, max_in_flight: int, max_per_s: int, partition: int
    ) -> list[Any]:
        return [
            now_ms(),
            limit,
            int(lease_s * 1000),
            max_in_flight,
            max_per_s,
            keys.webhook_in_flight_pattern(partition),
            keys.webhook_rate_pattern(partition),
            THROTTLE_RECHECK_MS,
        ]

    async def _heads(self) -> dict[int, int]:
        """Each non-empty partition's earliest due time (ms): one command on a server, one pipeline
        (a command per partition, sent to each node at once) on a cluster."""
        due_keys = [keys.webhook_due(p) for p in PARTITIONS]
        if is_cluster(self.redis):
            pipe = self.redis.pipeline(transaction=False)
            for due in due_keys:
                pipe.zrange(due, 0, 0, withscores=True)
            heads = [head[0][1] if head else "" for head in await pipe.execute()]
        else:
            heads = await self._heads_script(keys=due_keys)
        return {p: int(float(head)) for p, head in zip(PARTITIONS, heads, strict=True) if head != ""}

    async def waiting(self) -> int:
        """How many deliveries are due or in flight (lane heads), over every partition."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in PARTITIONS:
            pipe.zcard(keys.webhook_due(partition))
        return sum(await pipe.execute())

    async def overdue(self) -> tuple[int, float]:
        """Lane heads due by now (waiting for a worker to claim them) and how late the oldest is, s."""
        now = now_ms()
        oldest_ms = min((due_ms for due_ms in (await self._heads()).values()), default=now)
        pipe = self.redis.pipeline(transaction=False)
        for partition in PARTITIONS:
            pipe.zcount(keys.webhook_due(partition), "-inf", now)
        return sum(await pipe.execute()), max(0.0, (now - oldest_ms) / 1000)

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
        endpoint_id = delivery.endpoint_id
        script_keys = queue_scripts.finish_keys(endpoint_id, delivery.lane, delivery.id)
        script_args = [
            endpoint_id,
            delivery.id,
            "retry" if retry_at_ms is not None else "done",
            retry_at_ms or 0,
            now_ms(),
            self.retention_s,
            json.dumps(attempt) if attempt is not None else "",
            *[part for pair in fields.items() for part in pair],
        ]
        [error] = await self._finishes.submit([(self._finish, script_keys, script_args)])
        if error is not None:
            raise error

    async def _write_finishes(self, calls: list[ScriptCall]) -> list[BaseException | None]:
        """Through a Redis outage keep trying (the requests were sent: a finish given up on would
        send them again); when a call fails on its data, run the calls one by one so only that
        call's waiter learns of it."""
        failures = 0
        while True:
            try:
                await run_scripts(self.redis, calls)
                return [None] * len(calls)
            except Exception as exc:
                if not poison.is_outage(exc):
                    return await self._write_each(calls)
                failures += 1
                wait_s = min(FINISH_RETRY_MAX_S, FINISH_RETRY_BASE_S * 2**failures)
                log.warning("delivery outcomes not written (%s); retrying in %.1f s", exc, wait_s)
                await asyncio.sleep(wait_s)

    async def _write_each(self, calls: list[ScriptCall]) -> list[BaseException | None]:
        errors: list[BaseException | None] = []
        for call in calls:
            try:
                await run_scripts(self.redis, [call])
                errors.append(None)
            except Exception as exc:  # an outage here reaches its waiter, who leaves the lease to expire
                errors.append(exc)
        return errors

    async def count_poison(self, delivery: Delivery) -> int:
        """One more failure of ``delivery`` on its data; returns how many so far (0: it is gone)."""
        key = keys.webhook_delivery(delivery.endpoint_id, delivery.id)
        return int(await self._count_poison(keys=[key]))

    async def requeue(self, delivery: Delivery) -> None:
        """Send again (manual retry or recovery): a fresh schedule, the same ``webhook-id``."""
        endpoint_id = delivery.endpoint_id
        await self._requeue(
            keys=[
                keys.webhook_due(keys.webhook_partition(endpoint_id)),
                keys.webhook_lane(endpoint_id, delivery.lane),
                keys.webhook_delivery(endpoint_id, delivery.id),
                keys.webhook_attempts(endpoint_id, delivery.id),
            ],
            args=[endpoint_id, delivery.id, delivery.sequence, now_ms()],
        )

    async def get(self, ident: str, merchant_id: str | None = None) -> Delivery:
        """By id alone (the API's view): looked up in every partition, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in PARTITIONS:
            pipe.hgetall(keys.webhook_delivery_in(partition, ident))
        raw = next((found for found in await pipe.execute() if found), None)
        if not raw or (merchant_id is not None and raw["merchant_id"] != merchant_id):
            raise NotFound(f"delivery {ident} does not exist")
        return parse(raw)

    async def get_many(self, members: list[tuple[str, str]]) -> list[Delivery]:
        """The deliveries ``(endpoint_id, delivery_id)`` that still exist."""
        return [parse(raw) for raw in await self.get_many_raw(members) if raw]

    async def get_many_raw(self, members: list[tuple[str, str]]) -> list[dict[str, str]]:
        """The hashes of ``(endpoint_id, delivery_id)``, in order (empty where gone)."""
        pipe = self.redis.pipeline(transaction=False)
        for endpoint_id, ident in members:
            pipe.hgetall(keys.webhook_delivery(endpoint_id, ident))
        found: list[dict[str, str]] = await pipe.execute()
        return found

    async def attempts(self, delivery: Delivery) -> list[dict[str, Any]]:
        recorded = await self.redis.lrange(keys.webhook_attempts(delivery.endpoint_id, delivery.id), 0, -1)
        return [json.loads(item) for item in recorded]

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
            batch = await self.get_many([(endpoint_id, ident) for ident in idents])
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
        return await self.get_many([(endpoint_id, ident) for ident in idents])

    async def forget(self, member: str, lane: str = "") -> None:
        """Drop a due entry whose delivery is gone (expired, its endpoint deleted) or unreadable; given
        the ``lane`` an unreadable record still names, that lane moves on past it instead of stalling."""
        endpoint_id, _, ident = member.partition("/")
        args = [endpoint_id, ident, "done", 0, now_ms(), self.retention_s, ""]
        await self._finish(keys=queue_scripts.finish_keys(endpoint_id, lane, ident), args=args)

    async def wake_endpoint(self, endpoint_id: str) -> None:
        """Make an endpoint's waiting deliveries due now (after a resume)."""
        now = now_ms()
        due = keys.webhook_due(keys.webhook_partition(endpoint_id))
        async for member, _ in self.redis.zscan_iter(due, match=f"{endpoint_id}/*"):
            await self.redis.zadd(due, {member: now}, xx=True)


def _shares(limit: int, partitions: list[int]) -> list[tuple[int, int]]:
    """``limit`` split as evenly as it goes among ``partitions`` (in order; none gets zero)."""
    count = min(limit, len(partitions))
    base, extra = divmod(limit, count)
    return [(p, base + (1 if i < extra else 0)) for i, p in enumerate(partitions[:count])]
