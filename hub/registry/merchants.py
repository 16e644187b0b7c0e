"""Merchants, their Alopeyk receiver secret, and the operator's switch.

An API key and an Alopeyk receiver secret are shown once, at creation; Redis keeps
only their SHA-256, indexed so a request finds its merchant with one lookup, and the
stored digest is then compared in constant time. API keys: :mod:`hub.registry.api_keys`.
Every change a cache must notice (a rotation, a disable, an enable) bumps
``keys.TENANCY_VERSION`` (see :mod:`hub.registry.gate`).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound
from hub.registry import api_keys
from hub.registry.api_keys import digest as digest  # the one SHA-256 of credentials

_FIELDS = ["name", "created_ms", "disabled_ms", "disabled_reason"]
_RECEIVER = [
    "name",
    "alopeyk_secret_sha256",
    "alopeyk_previous_sha256",
    "alopeyk_previous_until_ms",
    "disabled_ms",
]


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    disabled: bool = False


@dataclass(frozen=True)
class Details:
    """The operator's view of a merchant: never a credential."""

    merchant: Merchant
    created_ms: int
    disabled_ms: int | None
    disabled_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.merchant.id,
            "name": self.merchant.name,
            "created_ms": self.created_ms,
            "disabled": self.merchant.disabled,
            "disabled_ms": self.disabled_ms,
            "disabled_reason": self.disabled_reason,
        }


@dataclass(frozen=True)
class NewMerchant:
    merchant: Merchant
    api_key: str
    alopeyk_secret: str


@dataclass(frozen=True)
class ReceiverMatch:
    """A receiver secret's merchant; ``valid_until_ms`` is set on a rotated secret's overlap."""

    merchant: Merchant
    valid_until_ms: int | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


async def create(redis: Redis, name: str) -> NewMerchant:
    merchant_id = "mer_" + secrets.token_hex(8)
    alopeyk_secret = secrets.token_urlsafe(32)
    created = now_ms()
    pipe = redis.pipeline(transaction=False)  # several slots on a cluster: no MULTI across them
    pipe.hset(
        keys.merchant(merchant_id),
        mapping={"name": name, "alopeyk_secret_sha256": digest(alopeyk_secret), "created_ms": created},
    )
    pipe.set(keys.alopeyk_secret(digest(alopeyk_secret)), merchant_id)
    pipe.zadd(keys.MERCHANTS, {merchant_id: created})
    await pipe.execute()
    new_key = await api_keys.create(redis, merchant_id, api_keys.FIRST_KEY_NAME)
    return NewMerchant(Merchant(merchant_id, name), new_key.secret, alopeyk_secret)


async def get(redis: Redis, merchant_id: str) -> Merchant:
    return (await details(redis, merchant_id)).merchant


async def details(redis: Redis, merchant_id: str) -> Details:
    name, created, disabled_ms, reason = await redis.hmget(keys.merchant(merchant_id), _FIELDS)
    if name is None:
        raise NotFound(f"merchant {merchant_id} does not exist")
    return _details(merchant_id, name, created, disabled_ms, reason)


def _details(merchant_id: str, name: str, created: Any, disabled_ms: Any, reason: Any) -> Details:
    disabled_at = int(disabled_ms) if disabled_ms else None
    merchant = Merchant(merchant_id, name, disabled_at is not None)
    return Details(merchant, int(created or 0), disabled_at, reason if disabled_at else None)


async def page(redis: Redis, limit: int, cursor: str | None) -> tuple[list[Details], str | None]:
    """Merchants oldest first; ``cursor`` is the last id of the previous page."""
    if not await redis.exists(keys.MERCHANTS_INDEXED):
        await _index_existing(redis)
    start = 0
    if cursor is not None:
        rank = await redis.zrank(keys.MERCHANTS, cursor)
        if rank is None:
            raise NotFound(f"cursor {cursor!r} names no merchant")
        start = rank + 1
    ids: list[str] = await redis.zrange(keys.MERCHANTS, start, start + limit)
    pipe = redis.pipeline(transaction=False)
    for merchant_id in ids[:limit]:
        pipe.hmget(keys.merchant(merchant_id), _FIELDS)
    found = [
        _details(merchant_id, *fields)
        for merchant_id, fields in zip(ids, await pipe.execute(), strict=False)
        if fields[0] is not None
    ]
    return found, ids[limit - 1] if len(ids) > limit else None


async def indexed_ids(redis: Redis, start: int, count: int) -> list[str]:
    """Ids in the index, oldest first, without indexing the merchants from before it (see ``page``)."""
    return list(await redis.zrange(keys.MERCHANTS, start, start + count - 1))


async def keep_indexed(redis: Redis, merchant_id: str) -> None:
    """Add a merchant from before the index to it (idempotent)."""
    created = await redis.hget(keys.merchant(merchant_id), "created_ms")
    await redis.zadd(keys.MERCHANTS, {merchant_id: int(created or 0)}, nx=True)


async def _index_existing(redis: Redis) -> None:
    """Once: add the merchants created before the index existed (one SCAN, idempotent)."""
    found: dict[str, int] = {}
    async for key in redis.scan_iter(match=keys.merchant("mer_*"), count=1000):
        merchant_id = key.removeprefix(keys.merchant(""))
        if ":" not in merchant_id:  # not one of its other keys (shipments, API keys)
            found[merchant_id] = int(await redis.hget(key, "created_ms") or 0)
    if found:
        await redis.zadd(keys.MERCHANTS, found, nx=True)
    await redis.set(keys.MERCHANTS_INDEXED, 1)


async def set_disabled(redis: Redis, merchant_id: str, reason: str | None) -> Details:
    """Disable (``reason`` given) or enable a merchant; its data is kept either way."""
    await get(redis, merchant_id)  # 404 for an unknown merchant
    key = keys.merchant(merchant_id)
    pipe = redis.pipeline(transaction=False)
    if reason is not None:
        pipe.hset(key, mapping={"disabled_ms": now_ms(), "disabled_reason": reason})
        pipe.sadd(keys.MERCHANTS_DISABLED, merchant_id)
    else:
        pipe.hdel(key, "disabled_ms", "disabled_reason")
        pipe.srem(keys.MERCHANTS_DISABLED, merchant_id)
    pipe.incr(keys.TENANCY_VERSION)
    pipe.incr(keys.WEBHOOK_ENDPOINTS_VERSION)  # delivery engines reload and pause or resume its endpoints
    await pipe.execute()
    return await details(redis, merchant_id)


async def by_alopeyk_secret(redis: Redis, secret: str) -> ReceiverMatch | None:
    """The merchant whose current secret this is, or whose previous one while its overlap lasts."""
    merchant_id = await redis.get(keys.alopeyk_secret(digest(secret)))
    if merchant_id is None:
        return None
    name, current, previous, until, disabled_ms = await redis.hmget(keys.merchant(merchant_id), _RECEIVER)
    merchant = Merchant(merchant_id, name, bool(disabled_ms))
    wanted = digest(secret)
    if current is not None and hmac.compare_digest(current, wanted):
        return ReceiverMatch(merchant)
    if previous is not None and hmac.compare_digest(previous, wanted) and int(until or 0) > now_ms():
        return ReceiverMatch(merchant, int(until))
    return None


async def rotate_alopeyk_secret(redis: Redis, merchant_id: str, overlap_s: float) -> tuple[str, int | None]:
    """A new receiver secret; the current one stays accepted for ``overlap_s`` (one previous at most).

    Returns the new secret and when the previous one stops being accepted (ms), if at all.
    """
    key = keys.merchant(merchant_id)
    current, previous = await redis.hmget(key, ["alopeyk_secret_sha256", "alopeyk_previous_sha256"])
    secret = secrets.token_urlsafe(32)
    until = now_ms() + int(overlap_s * 1000) if current and overlap_s > 0 else None
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys.alopeyk_secret(digest(secret)), merchant_id)
    pipe.hset(key, "alopeyk_secret_sha256", digest(secret))
    if previous:
        pipe.delete(keys.alopeyk_secret(previous))  # a rotation ends the last one's overlap now
    if current and until is not None:
        pipe.hset(key, mapping={"alopeyk_previous_sha256": current, "alopeyk_previous_until_ms": until})
        pipe.pexpireat(keys.alopeyk_secret(current), until)
    else:
        pipe.hdel(key, "alopeyk_previous_sha256", "alopeyk_previous_until_ms")
        if current:
            pipe.delete(keys.alopeyk_secret(current))
    pipe.incr(keys.TENANCY_VERSION)
    await pipe.execute()
    return secret, until
