"""How long a shipment is kept, and what its lookups learn while it is tracked.

A shipment that reaches a terminal status keeps its keys ``HUB_SHIPMENT_RETENTION_S`` more
(docs/retention.md): its hash, history, dedup index, outbox and poll state, its tracking
token and provider reference, and its entries in the merchant's lookup indexes. A lookup
index (:func:`hub.keys.merchant_lookup`) may hold several shipments: each entry's score is 0
while its shipment is in flight, else when it expires (ms); the key itself expires with
its last finished entry, and a new shipment under it makes it permanent again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from hub import keys
from hub.infra.lru import LRU
from hub.infra.redis_clients import run_scripts
from hub.model.observation import EventType
from hub.model.status import TERMINAL
from hub.registry.shipments import LOOKUPS, Shipment, index
from hub.settings import Settings

# KEYS[1] a lookup index; ARGV: shipment id, its expiry (ms), now (ms).
_FINISH_LOOKUP = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 1, '(' .. ARGV[3])
if redis.call('ZCOUNT', KEYS[1], 0, 0) == 0 then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
end
return 1
"""


class Appended(Protocol):
    """What :class:`hub.streams.append.Appended` tells (a layer above: named, not imported)."""

    @property
    def event(self) -> Any: ...


class Upkeep:
    """Queues what appended events change beside the streams: learned references, expiry.

    Runs where events are appended (:mod:`hub.ingest.pipeline`), in the round trip that
    already follows an append; it adds commands only for a reference first learned or a
    shipment that just finished.
    """

    def __init__(self, redis: Any, settings: Settings) -> None:
        self.retention_s = settings.shipment_retention_s
        self._redis = redis
        self._finish = redis.register_script(_FINISH_LOOKUP)
        self._pending: list[tuple[Any, list[str], list[Any]]] = []
        # (shipment id, merchant_ref) this process indexed: Alopeyk repeats it on every webhook.
        self._learned: LRU[tuple[str, str], bool] = LRU(max_entries=100_000, ttl_s=3600)

    def queue(self, pipe: Any, shipment: Shipment, event: Mapping[str, Any], appended: Appended) -> int:
        """Queue the updates a newly appended ``event`` (as built) of ``shipment`` calls for.

        ``appended.event`` is the event as appended, read only for a terminal status: was it stale?
        """
        queued = 0
        data = event.get("data") or {}
        learned = data.get("merchant_ref")
        if learned and not shipment.merchant_ref and self._learned.get((shipment.id, learned)) is None:
            index(pipe, shipment.merchant_id, shipment.id, "merchant_ref", learned)
            self._learned.put((shipment.id, learned), True)
            queued += 1
        finished = event.get("type") == EventType.STATUS_CHANGED.value and data.get("status") in TERMINAL
        if finished and self.retention_s > 0 and not ((appended.event or {}).get("data") or {}).get("stale"):
            queued += self.expire(pipe, shipment, learned)
        return queued

    def expire(self, pipe: Any, shipment: Shipment, learned_ref: str | None = None) -> int:
        """Queue the expiry of every key of ``shipment``, ``retention_s`` from now."""
        retain_ms = self.retention_s * 1000
        now_ms = int(time.time() * 1000)
        for key in (*keys.shipment_keys(shipment.id), keys.poll_state(shipment.id)):
            pipe.pexpire(key, retain_ms)
        pipe.pexpire(keys.tracking_token(shipment.tracking_token), retain_ms)
        pipe.pexpire(keys.provider_ref(shipment.provider, shipment.provider_ref), retain_ms)
        refs = {(field, getattr(shipment, field)) for field in LOOKUPS} | {("merchant_ref", learned_ref)}
        for field, value in refs:
            if value:
                lookup = keys.merchant_lookup(shipment.merchant_id, field, value)
                self._pending.append((self._finish, [lookup], [shipment.id, now_ms + retain_ms, now_ms]))
        return 1

    async def flush(self) -> None:
        """Run the lookup index updates :meth:`queue` left (scripts: a cluster pipelines none)."""
        pending, self._pending = self._pending, []
        if pending:
            await run_scripts(self._redis, pending)
