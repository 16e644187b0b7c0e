"""Merchants and their credentials.

An API key and an Alopeyk receiver secret are shown once, at creation; Redis keeps
only their SHA-256, indexed so a request finds its merchant with one lookup, and the
stored digest is then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str


@dataclass(frozen=True)
class NewMerchant:
    merchant: Merchant
    api_key: str
    alopeyk_secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create(redis: Redis, name: str) -> NewMerchant:
    merchant_id = "mer_" + secrets.token_hex(8)
    api_key = "hk_" + secrets.token_urlsafe(32)
    alopeyk_secret = secrets.token_urlsafe(32)
    pipe = redis.pipeline(transaction=False)  # three slots on a cluster: no MULTI across them
    pipe.hset(
        keys.merchant(merchant_id),
        mapping={
            "name": name,
            "api_key_sha256": digest(api_key),
            "alopeyk_secret_sha256": digest(alopeyk_secret),
            "created_ms": int(time.time() * 1000),
        },
    )
    pipe.set(keys.api_key(digest(api_key)), merchant_id)
    pipe.set(keys.alopeyk_secret(digest(alopeyk_secret)), merchant_id)
    await pipe.execute()
    return NewMerchant(Merchant(merchant_id, name), api_key, alopeyk_secret)


async def get(redis: Redis, merchant_id: str) -> Merchant:
    name = await redis.hget(keys.merchant(merchant_id), "name")
    if name is None:
        raise NotFound(f"merchant {merchant_id} does not exist")
    return Merchant(merchant_id, name)


async def by_api_key(redis: Redis, api_key: str) -> Merchant | None:
    return await _by_secret(redis, keys.api_key(digest(api_key)), "api_key_sha256", api_key)


async def by_alopeyk_secret(redis: Redis, secret: str) -> Merchant | None:
    return await _by_secret(redis, keys.alopeyk_secret(digest(secret)), "alopeyk_secret_sha256", secret)


async def _by_secret(redis: Redis, index_key: str, field: str, secret: str) -> Merchant | None:
    merchant_id = await redis.get(index_key)
    if merchant_id is None:
        return None
    stored = await redis.hmget(keys.merchant(merchant_id), ["name", field])
    name, stored_digest = stored
    if stored_digest is None or not hmac.compare_digest(stored_digest, digest(secret)):
        return None
    return Merchant(merchant_id, name)
