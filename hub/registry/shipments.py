"""The shipment registry: who owns a shipment, how the provider and the public name it.

Shipment ids sort by creation time (``shp_`` + hex milliseconds + random), which gives
cursor pagination for free: the cursor is the last id seen.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import Conflict, NotFound
from hub.model.event import ShipmentRef
from hub.model.status import TERMINAL


@dataclass(frozen=True)
class Shipment:
    id: str
    merchant_id: str
    provider: str
    provider_ref: str
    tracking_token: str
    merchant_ref: str | None
    tracking: bool
    created_ms: int
    state: dict[str, Any]

    @property
    def ref(self) -> ShipmentRef:
        """The reference events are built from, without the tracking link (see :meth:`ref_at`)."""
        return ShipmentRef(self.id, self.merchant_id, self.provider, self.provider_ref, self.merchant_ref)

    def tracking_url(self, public_url: str) -> str:
        """The recipient's tracking link under ``HUB_PUBLIC_URL``."""
        return f"{public_url}/track/{self.tracking_token}"

    def ref_at(self, public_url: str) -> ShipmentRef:
        """The reference events are built from, with the recipient's tracking link (merchant-facing)."""
        return ShipmentRef(
            self.id,
            self.merchant_id,
            self.provider,
            self.provider_ref,
            self.merchant_ref,
            self.tracking_url(public_url),
        )

    @property
    def status(self) -> str | None:
        status: str | None = self.state.get("status")
        return status

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "merchant_id": self.merchant_id,
            "provider": self.provider,
            "provider_ref": self.provider_ref,
            "merchant_ref": self.merchant_ref,
            "tracking_token": self.tracking_token,
            "tracking": self.tracking,
            "created_at_ms": self.created_ms,
            **self.state,
        }


def new_id() -> str:
    return f"shp_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"


async def register(
    redis: Redis, merchant_id: str, provider: str, provider_ref: str, merchant_ref: str | None = None
) -> tuple[Shipment, bool]:
    """Register a shipment, or return the one already registered for this provider reference.

    Returns ``(shipment, created)``. The hash is written before the reference index so a
    concurrent registration that loses the race always finds a complete shipment.
    """
    shipment_id = new_id()
    token = secrets.token_urlsafe(16)
    record: dict[str, str | int] = {
        "merchant_id": merchant_id,
        "provider": provider,
        "provider_ref": provider_ref,
        "tracking_token": token,
        "tracking": "1",
        "created_ms": int(time.time() * 1000),
    }
    if merchant_ref:
        record["merchant_ref"] = merchant_ref
    pipe = redis.pipeline(transaction=False)
    pipe.hset(keys.shipment(shipment_id), mapping=record)
    pipe.set(keys.provider_ref(provider, provider_ref), shipment_id, nx=True)
    _, created = await pipe.execute()
    if created:
        pipe = redis.pipeline(transaction=False)
        pipe.set(keys.tracking_token(token), shipment_id)
        pipe.zadd(keys.merchant_shipments(merchant_id), {shipment_id: 0})
        index(pipe, merchant_id, shipment_id, "provider_ref", provider_ref)
        if merchant_ref:
            index(pipe, merchant_id, shipment_id, "merchant_ref", merchant_ref)
        pipe.zadd(keys.POLL_DUE, {shipment_id: 0})  # the poller (workers/) takes it from here
        _announce(pipe, shipment_id, provider, provider_ref, "registered")
        await pipe.execute()
        return _from_hash(shipment_id, {key: str(value) for key, value in record.items()}), True
    await redis.delete(keys.shipment(shipment_id))
    existing = await get(redis, await redis.get(keys.provider_ref(provider, provider_ref)))
    if existing.merchant_id != merchant_id:
        raise Conflict(f"{provider} shipment {provider_ref} is registered to another merchant")
    return existing, False


async def find(redis: Redis, provider: str, provider_ref: str) -> Shipment | None:
    shipment_id = await redis.get(keys.provider_ref(provider, provider_ref))
    return await get(redis, shipment_id) if shipment_id else None


async def by_token(redis: Redis, token: str) -> Shipment:
    shipment_id = await redis.get(keys.tracking_token(token))
    if not shipment_id:
        raise NotFound("no shipment has this tracking token")
    return await get(redis, shipment_id)


async def get(redis: Redis, shipment_id: str, merchant_id: str | None = None) -> Shipment:
    """The shipment; ``NotFound`` when it does not exist or belongs to another merchant."""
    raw = await redis.hgetall(keys.shipment(shipment_id))
    if not raw or (merchant_id is not None and raw.get("merchant_id") != merchant_id):
        raise NotFound(f"shipment {shipment_id} not found")
    return _from_hash(shipment_id, raw)


async def history(redis: Redis, shipment_id: str, count: int | None = None) -> list[dict[str, Any]]:
    """The shipment's events in sequence order (the last ``count`` when given)."""
    if count is None:
        entries = await redis.xrange(keys.history(shipment_id))
    else:
        entries = list(reversed(await redis.xrevrange(keys.history(shipment_id), count=count)))
    return [json.loads(fields["event"]) for _, fields in entries]


LOOKUPS = ("merchant_ref", "provider_ref")  # the fields GET /v1/shipments finds by exact value
MAX_LOOKUP = 1000  # shipments one reference's index is read for


def index(pipe: Any, merchant_id: str, shipment_id: str, field: str, value: str) -> None:
    """Queue the lookup entry ``field = value`` -> shipment; the key is kept: it has one in flight."""
    key = keys.merchant_lookup(merchant_id, field, value)
    pipe.zadd(key, {shipment_id: 0})
    pipe.persist(key)


async def page(
    redis: Redis,
    merchant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    provider: str | None = None,
    refs: dict[str, str] | None = None,
) -> tuple[list[Shipment], str | None]:
    """Newest first; returns the page and the cursor of the next one (``None`` at the end).

    ``refs`` (:data:`LOOKUPS` fields and their exact values) reads the first one's index instead of
    every shipment of the merchant. Ids whose shipment has expired leave the index as they are met.
    """
    refs = refs or {}
    first = next(iter(refs.items()), None)
    index_key = keys.merchant_lookup(merchant_id, *first) if first else keys.merchant_shipments(merchant_id)
    found: list[Shipment] = []
    upper = f"({cursor}" if cursor else "+"
    batch = max(limit, 50)
    for _ in range(20):  # bounded scan when filters reject most shipments
        ids = await _ids(redis, index_key, upper, batch, lookup=first is not None)
        gone: list[str] = []
        for shipment_id in ids:
            upper = f"({shipment_id}"
            try:
                shipment = await get(redis, shipment_id, merchant_id)
            except NotFound:
                gone.append(shipment_id)
                continue
            if _matches(shipment, status, provider, refs):
                found.append(shipment)
                if len(found) == limit:
                    await _forget(redis, index_key, gone)
                    return found, shipment_id
        await _forget(redis, index_key, gone)
        if len(ids) < batch:
            return found, None
    return found, upper[1:]


async def _ids(redis: Redis, index_key: str, upper: str, batch: int, *, lookup: bool) -> list[str]:
    """The next ids below ``upper``, newest first.

    A lookup index scores its entries by expiry (retention), so it is read whole (one
    reference names few shipments: at most :data:`MAX_LOOKUP` are considered) and sorted here.
    """
    if not lookup:
        found: list[str] = await redis.zrevrangebylex(index_key, upper, "-", start=0, num=batch)
        return found
    members = sorted(await redis.zrange(index_key, 0, MAX_LOOKUP - 1), reverse=True)
    below = [m for m in members if upper == "+" or m < upper[1:]]
    return below[:batch]


def _matches(shipment: Shipment, status: str | None, provider: str | None, refs: dict[str, str]) -> bool:
    if any(getattr(shipment, field) != value for field, value in refs.items()):
        return False  # e.g. an index entry of a reference the shipment did not keep (the first learned wins)
    if status is not None and shipment.status != status:
        return False
    return provider is None or shipment.provider == provider


async def _forget(redis: Redis, index_key: str, shipment_ids: list[str]) -> None:
    """Drop ids whose shipment expired (retention) or was never this merchant's."""
    if shipment_ids:
        await redis.zrem(index_key, *shipment_ids)


async def stop_tracking(redis: Redis, shipment_id: str, merchant_id: str) -> Shipment:
    shipment = await get(redis, shipment_id, merchant_id)
    pipe = redis.pipeline(transaction=False)
    pipe.hset(keys.shipment(shipment_id), mapping={"tracking": "0", "stopped_ms": int(time.time() * 1000)})
    _announce(pipe, shipment_id, shipment.provider, shipment.provider_ref, "stopped")
    await pipe.execute()
    return await get(redis, shipment_id)


async def finished(redis: Redis, shipment_id: str, provider: str, provider_ref: str) -> None:
    """Take a shipment that reached a terminal status out of its provider's active index."""
    pipe = redis.pipeline(transaction=False)
    _announce(pipe, shipment_id, provider, provider_ref, "finished")
    await pipe.execute()


def _announce(pipe: Any, shipment_id: str, provider: str, provider_ref: str, change: str) -> None:
    """Keep ``active:<provider>`` current and tell listeners (``hub pusher``) now, not at their next scan."""
    if change == "registered":
        pipe.hset(keys.active(provider), shipment_id, provider_ref)
    else:
        pipe.hdel(keys.active(provider), shipment_id)
    fields = {"shipment": shipment_id, "provider": provider, "provider_ref": provider_ref, "change": change}
    pipe.xadd(keys.SHIPMENT_REGISTRATIONS, fields, maxlen=100_000, approximate=True)


def _from_hash(shipment_id: str, raw: dict[str, str]) -> Shipment:
    state: dict[str, Any] = {
        "status": raw.get("status"),
        "sequence": int(raw.get("sequence", 0)),
        "location": json.loads(raw["location"]) if raw.get("location") else None,
        "courier": json.loads(raw["courier"]) if raw.get("courier") else None,
        "eta": raw.get("eta"),
        "status_time_ms": int(raw["status_time_ms"]) if raw.get("status_time_ms") else None,
        "last_event_ms": int(raw["last_event_ms"]) if raw.get("last_event_ms") else None,
    }
    return Shipment(
        id=shipment_id,
        merchant_id=raw["merchant_id"],
        provider=raw["provider"],
        provider_ref=raw["provider_ref"],
        tracking_token=raw["tracking_token"],
        merchant_ref=raw.get("merchant_ref"),
        tracking=raw.get("tracking", "1") == "1",
        created_ms=int(raw.get("created_ms", 0)),
        state=state,
    )
