"""Endpoints: a merchant's URL, what it subscribes to, its state and its signing secrets.

Every change bumps ``keys.WEBHOOK_ENDPOINTS_VERSION`` so dispatchers and workers can keep
a cached copy and reload only when something changed.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound
from hub.webhooks.signing import SecretBox, new_secret


class State(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # deliveries are kept and sent after resume
    DISABLED = "disabled"  # no new deliveries; pending ones are failed (recoverable)


@dataclass(frozen=True)
class StoredSecret:
    sealed: str
    expires_ms: int | None = None  # set on the previous secret during a rotation overlap


@dataclass(frozen=True)
class Endpoint:
    id: str
    merchant_id: str
    url: str
    description: str = ""
    event_types: tuple[str, ...] = ()  # empty: every type
    providers: tuple[str, ...] = ()  # empty: every provider
    shipment_ids: tuple[str, ...] = ()  # empty: every shipment
    state: State = State.ACTIVE
    disabled_reason: str | None = None
    disabled_ms: int | None = None
    failing_since_ms: int | None = None
    created_ms: int = 0
    updated_ms: int = 0
    secrets: tuple[StoredSecret, ...] = field(default=(), repr=False)

    def live_secrets(self, box: SecretBox, now_ms: int) -> list[str]:
        """Secrets that sign requests now: the newest, plus the previous one during its overlap."""
        return [box.open(s.sealed) for s in self.secrets if s.expires_ms is None or s.expires_ms > now_ms]

    def to_json(self) -> dict[str, Any]:
        """The API view: never any secret."""
        return {
            "id": self.id,
            "merchant_id": self.merchant_id,
            "url": self.url,
            "description": self.description,
            "event_types": list(self.event_types),
            "providers": list(self.providers),
            "shipment_ids": list(self.shipment_ids),
            "state": self.state.value,
            "disabled_reason": self.disabled_reason,
            "disabled_ms": self.disabled_ms,
            "failing_since_ms": self.failing_since_ms,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "secret_rotation_ends_ms": max((s.expires_ms or 0 for s in self.secrets), default=0) or None,
        }


def now_ms() -> int:
    return int(time.time() * 1000)


async def create(
    redis: Redis, box: SecretBox, merchant_id: str, url: str, **subscription: Any
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (the only time the secret is returned)."""
    secret = new_secret()
    created = now_ms()
    endpoint = Endpoint(
        id="ep_" + secrets.token_hex(8),
        merchant_id=merchant_id,
        url=url,
        created_ms=created,
        updated_ms=created,
        secrets=(StoredSecret(box.seal(secret)),),
        **subscription,
    )
    pipe = redis.pipeline(transaction=True)
    pipe.hset(keys.webhook_endpoint(endpoint.id), mapping=_fields(endpoint))
    pipe.sadd(keys.WEBHOOK_ENDPOINTS, endpoint.id)
    pipe.sadd(keys.webhook_merchant_endpoints(merchant_id), endpoint.id)
    pipe.incr(keys.WEBHOOK_ENDPOINTS_VERSION)
    await pipe.execute()
    return endpoint, secret


async def get(redis: Redis, endpoint_id: str, merchant_id: str | None = None) -> Endpoint:
    """The endpoint; ``merchant_id`` (None for the admin) hides other merchants' endpoints."""
    raw = await redis.hgetall(keys.webhook_endpoint(endpoint_id))
    if not raw or (merchant_id is not None and raw["merchant_id"] != merchant_id):
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return _parse(raw)


async def listing(redis: Redis, merchant_id: str | None = None) -> list[Endpoint]:
    index = keys.webhook_merchant_endpoints(merchant_id) if merchant_id else keys.WEBHOOK_ENDPOINTS
    ids = sorted(await redis.smembers(index))
    pipe = redis.pipeline(transaction=False)
    for endpoint_id in ids:
        pipe.hgetall(keys.webhook_endpoint(endpoint_id))
    found = [_parse(raw) for raw in await pipe.execute() if raw]
    return sorted(found, key=lambda e: e.created_ms)


async def count_by_state(redis: Redis) -> dict[str, int]:
    """How many endpoints are in each state (every state listed, 0 when none)."""
    ids = sorted(await redis.smembers(keys.WEBHOOK_ENDPOINTS))
    pipe = redis.pipeline(transaction=False)
    for endpoint_id in ids:
        pipe.hget(keys.webhook_endpoint(endpoint_id), "state")
    counts = dict.fromkeys((state.value for state in State), 0)
    for state in await pipe.execute():
        if state in counts:
            counts[state] += 1
    return counts


async def save(redis: Redis, endpoint: Endpoint, **changes: Any) -> Endpoint:
    """Store only the changed fields, so concurrent writers of other fields do not collide."""
    key = keys.webhook_endpoint(endpoint.id)
    if not await redis.exists(key):
        raise NotFound(f"webhook endpoint {endpoint.id} does not exist")
    updated = replace(endpoint, **changes, updated_ms=now_ms())
    written = {k: v for k, v in _fields(updated).items() if k in changes or k == "updated_ms"}
    cleared = [k for k in changes if k in _OPTIONAL and getattr(updated, k) is None]
    pipe = redis.pipeline(transaction=True)
    pipe.hset(key, mapping=written)
    if cleared:
        pipe.hdel(key, *cleared)
    pipe.incr(keys.WEBHOOK_ENDPOINTS_VERSION)
    await pipe.execute()
    return updated


async def rotate(redis: Redis, box: SecretBox, endpoint: Endpoint, overlap_s: float) -> tuple[Endpoint, str]:
    """A new secret; the current one keeps signing alongside it for ``overlap_s``."""
    secret = new_secret()
    expires = now_ms() + int(overlap_s * 1000)
    previous = [s for s in endpoint.secrets if s.expires_ms is None][:1]
    kept = [StoredSecret(s.sealed, expires) for s in previous] if overlap_s > 0 else []
    updated = await save(redis, endpoint, secrets=(StoredSecret(box.seal(secret)), *kept))
    return updated, secret


async def delete(redis: Redis, endpoint: Endpoint) -> None:
    pipe = redis.pipeline(transaction=True)
    pipe.delete(keys.webhook_endpoint(endpoint.id))
    pipe.srem(keys.WEBHOOK_ENDPOINTS, endpoint.id)
    pipe.srem(keys.webhook_merchant_endpoints(endpoint.merchant_id), endpoint.id)
    pipe.incr(keys.WEBHOOK_ENDPOINTS_VERSION)
    await pipe.execute()


_DISABLE = """
local endpoint, version = KEYS[1], KEYS[2]
local state = redis.call('HGET', endpoint, 'state')
if not state or state == 'disabled' then return 0 end
redis.call('HSET', endpoint, 'state', 'disabled', 'disabled_reason', ARGV[1], 'disabled_ms', ARGV[2],
  'updated_ms', ARGV[2])
redis.call('INCR', version)
return 1
"""


async def disable(redis: Redis, endpoint_id: str, reason: str) -> bool:
    """Disable once: True only for the caller that made the change (it tells the merchant)."""
    changed = await redis.eval(
        _DISABLE, 2, keys.webhook_endpoint(endpoint_id), keys.WEBHOOK_ENDPOINTS_VERSION, reason, now_ms()
    )
    return bool(changed)


async def set_failing_since(redis: Redis, endpoint_id: str, since_ms: int | None) -> None:
    """Start (or, with None, end) a failure streak; touches no other field."""
    key = keys.webhook_endpoint(endpoint_id)
    pipe = redis.pipeline(transaction=True)
    if since_ms is None:
        pipe.hdel(key, "failing_since_ms")
    else:
        pipe.hsetnx(key, "failing_since_ms", since_ms)
    pipe.incr(keys.WEBHOOK_ENDPOINTS_VERSION)
    await pipe.execute()


class EndpointCache:
    """Every endpoint, reloaded only when the version counter moved (one GET per check).

    An active endpoint of a merchant the operator disabled is seen as paused: its
    deliveries wait, and go out once the merchant is enabled (both bump the version).
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.version: str | None = None
        self.by_id: dict[str, Endpoint] = {}

    async def refresh(self) -> dict[str, Endpoint]:
        version = await self.redis.get(keys.WEBHOOK_ENDPOINTS_VERSION)
        if version != self.version or version is None:
            disabled = await self.redis.smembers(keys.MERCHANTS_DISABLED)
            self.by_id = {e.id: _paused_if(e, disabled) for e in await listing(self.redis)}
            self.version = version
        return self.by_id


def _paused_if(endpoint: Endpoint, disabled_merchants: set[str]) -> Endpoint:
    if endpoint.state is State.ACTIVE and endpoint.merchant_id in disabled_merchants:
        return replace(endpoint, state=State.PAUSED)
    return endpoint


_OPTIONAL = ("disabled_reason", "disabled_ms", "failing_since_ms")


def _fields(endpoint: Endpoint) -> dict[str, str | int]:
    written: dict[str, str | int] = {
        "id": endpoint.id,
        "merchant_id": endpoint.merchant_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": json.dumps(endpoint.event_types),
        "providers": json.dumps(endpoint.providers),
        "shipment_ids": json.dumps(endpoint.shipment_ids),
        "state": endpoint.state.value,
        "created_ms": endpoint.created_ms,
        "updated_ms": endpoint.updated_ms,
        "secrets": json.dumps([[s.sealed, s.expires_ms] for s in endpoint.secrets]),
    }
    for name in _OPTIONAL:
        value = getattr(endpoint, name)
        if value is not None:
            written[name] = value
    return written


def _parse(raw: dict[str, str]) -> Endpoint:
    optional_int = {n: int(raw[n]) for n in ("disabled_ms", "failing_since_ms") if raw.get(n)}
    return Endpoint(
        id=raw["id"],
        merchant_id=raw["merchant_id"],
        url=raw["url"],
        description=raw.get("description", ""),
        event_types=tuple(json.loads(raw["event_types"])),
        providers=tuple(json.loads(raw["providers"])),
        shipment_ids=tuple(json.loads(raw["shipment_ids"])),
        state=State(raw["state"]),
        disabled_reason=raw.get("disabled_reason"),
        created_ms=int(raw["created_ms"]),
        updated_ms=int(raw["updated_ms"]),
        secrets=tuple(StoredSecret(sealed, expires) for sealed, expires in json.loads(raw["secrets"])),
        **optional_int,
    )
