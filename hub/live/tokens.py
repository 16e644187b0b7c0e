"""Short-lived browser tokens: a merchant dashboard subscribes without holding the API key.

The server that issues the token keeps only its SHA-256 in Redis, with a TTL, so any
hub process accepts it and it expires by itself.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from hub import keys
from hub.registry.merchants import digest

PREFIX = "lt_"


async def issue(redis: Redis, merchant_id: str, ttl_s: int) -> str:
    token = PREFIX + secrets.token_urlsafe(24)
    await redis.set(keys.live_token(digest(token)), merchant_id, ex=ttl_s)
    return token


async def merchant_for(redis: Redis, token: str) -> str | None:
    """The merchant id behind a live token, or ``None`` (unknown or expired).

    The lookup is by the token's digest, so no secret is compared byte by byte.
    """
    merchant_id: str | None = await redis.get(keys.live_token(digest(token)))
    return merchant_id
