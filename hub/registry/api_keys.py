"""A merchant's API keys: several, named, each shown once and revocable.

Redis keeps each key's SHA-256 in an index (``keys.api_key``: digest -> merchant id) and
the key's record in the merchant's hash of keys, under an id derived from the digest, so
a request finds its key with one round trip and compares the stored digest in constant
time. Nothing caches a key's merchant: a revoked key is refused by the next request on
every process. Use is recorded at most once a minute per key and process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import Conflict, NotFound
from hub.infra.capped import hset_under_cap
from hub.infra.lru import LRU

FIRST_KEY_NAME = "default"  # the key ``POST /v1/merchants`` returns
MAX_KEYS = 50  # per merchant
PREFIX_CHARS = 11  # "hk_" and 8 characters: enough to tell keys apart, far too few to guess one
USE_WRITE_INTERVAL_S = 60.0

_written_uses: LRU[str, bool] = LRU(max_entries=100_000, ttl_s=USE_WRITE_INTERVAL_S)  # this process's


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id(key_digest: str) -> str:
    return "key_" + key_digest[:16]


@dataclass(frozen=True)
class ApiKey:
    id: str
    merchant_id: str
    name: str
    prefix: str
    created_ms: int
    last_used_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_ms": self.created_ms,
            "last_used_ms": self.last_used_ms,
        }


@dataclass(frozen=True)
class Authenticated:
    key: ApiKey
    merchant_name: str
    merchant_disabled: bool


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str


def now_ms() -> int:
    return int(time.time() * 1000)


async def create(redis: Redis, merchant_id: str, name: str) -> NewKey:
    secret = "hk_" + secrets.token_urlsafe(32)
    key_digest = digest(secret)
    key = ApiKey(key_id(key_digest), merchant_id, name, secret[:PREFIX_CHARS], now_ms())
    record = {"name": name, "prefix": key.prefix, "sha256": key_digest, "created_ms": key.created_ms}
    if not await hset_under_cap(
        redis, keys.merchant_api_keys(merchant_id), key.id, json.dumps(record), MAX_KEYS
    ):
        raise Conflict(f"a merchant has at most {MAX_KEYS} API keys: revoke one first")
    # Another slot on a cluster: a crash before this leaves a listed key no secret opens (revocable).
    await redis.set(keys.api_key(key_digest), merchant_id)
    return NewKey(key, secret)


async def listing(redis: Redis, merchant_id: str) -> list[ApiKey]:
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(keys.merchant_api_keys(merchant_id))
    pipe.hgetall(keys.merchant_api_keys_used(merchant_id))
    pipe.hmget(keys.merchant(merchant_id), ["api_key_sha256", "created_ms"])
    records, used, (legacy, created) = await pipe.execute()
    if legacy:  # a merchant created before keys had names: its one key is "default"
        records.setdefault(key_id(legacy), _legacy_record(legacy, created))
    found = [_parse(merchant_id, ident, raw, used.get(ident)) for ident, raw in records.items()]
    return sorted(found, key=lambda k: (k.created_ms, k.id))


async def authenticate(redis: Redis, secret: str) -> Authenticated | None:
    """The key this secret is, or None; records its use (at most once a minute per process)."""
    key_digest = digest(secret)
    merchant_id = await redis.get(keys.api_key(key_digest))
    if merchant_id is None:
        return None
    ident = key_id(key_digest)
    pipe = redis.pipeline(transaction=False)
    pipe.hget(keys.merchant_api_keys(merchant_id), ident)
    pipe.hmget(keys.merchant(merchant_id), ["api_key_sha256", "created_ms", "name", "disabled_ms"])
    raw, (legacy, created, name, disabled_ms) = await pipe.execute()
    if raw is None and legacy is not None:
        raw = json.dumps(_legacy_record(legacy, created))
    if raw is None or name is None:
        return None
    key = _parse(merchant_id, ident, raw, None)
    if not hmac.compare_digest(json.loads(raw)["sha256"], key_digest):
        return None
    if _written_uses.get(ident) is None:
        _written_uses.put(ident, True)
        await redis.hset(keys.merchant_api_keys_used(merchant_id), ident, now_ms())
    return Authenticated(key, name, bool(disabled_ms))


# Revoke unless it is the last key, in one step (two revocations at once cannot remove both last keys).
_REVOKE = """
if redis.call('HLEN', KEYS[1]) + tonumber(ARGV[2]) <= 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""


async def revoke(redis: Redis, merchant_id: str, ident: str) -> None:
    """Refused by every process from the next request; 404 for another merchant's key."""
    legacy = await redis.hget(keys.merchant(merchant_id), "api_key_sha256")
    raw = await redis.hget(keys.merchant_api_keys(merchant_id), ident)
    if raw is not None:
        key_digest = json.loads(raw)["sha256"]
    elif legacy is not None and key_id(legacy) == ident:
        key_digest = legacy
    else:
        raise NotFound(f"API key {ident} does not exist")
    if not await redis.eval(_REVOKE, 1, keys.merchant_api_keys(merchant_id), ident, 1 if legacy else 0):
        raise Conflict("this is the merchant's last API key: create another one before revoking it")
    pipe = redis.pipeline(transaction=False)
    pipe.delete(keys.api_key(key_digest))
    pipe.hdel(keys.merchant_api_keys_used(merchant_id), ident)
    if key_digest == legacy:
        pipe.hdel(keys.merchant(merchant_id), "api_key_sha256")
    pipe.incr(keys.TENANCY_VERSION)  # live sockets opened with this key are closed (hub.registry.gate)
    await pipe.execute()


async def exists(redis: Redis, merchant_id: str, ident: str) -> bool:
    if await redis.hexists(keys.merchant_api_keys(merchant_id), ident):
        return True
    legacy = await redis.hget(keys.merchant(merchant_id), "api_key_sha256")
    return legacy is not None and key_id(legacy) == ident


def _legacy_record(legacy_digest: str, created: str | None) -> dict[str, Any]:
    return {"name": FIRST_KEY_NAME, "prefix": "hk_", "sha256": legacy_digest, "created_ms": int(created or 0)}


def _parse(merchant_id: str, ident: str, raw: str | dict[str, Any], used: str | None) -> ApiKey:
    record = json.loads(raw) if isinstance(raw, str) else raw
    return ApiKey(
        ident,
        merchant_id,
        record["name"],
        record["prefix"],
        int(record["created_ms"]),
        int(used) if used else None,
    )
