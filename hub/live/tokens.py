"""Short-lived browser tokens: a merchant dashboard subscribes without holding the API key.

The server that issues the token keeps only its SHA-256 in Redis, with a TTL, so any
hub process accepts it and it expires by itself.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from hub import keys
from hub.registry.api_keys import digest

PREFIX = "lt_"


async def issue(redis: Redis, merchant_id: str, ttl_s: int, api_key_id: str | None = None) -> str:
    """A token for ``ttl_s``; one issued with an API key dies with it (hub.live.access)."""
    token = PREFIX + secrets.token_urlsafe(24)
    owner = merchant_id if api_key_id is None else f"{merchant_id} {api_key_id}"
    await redis.set(keys.live_token(digest(token)), owner, ex=ttl_s)
    return token


async def owner(redis: Redis, token: str) -> tuple[str, str | None] | None:
    """The merchant id behind a live token and the API key that issued it, or ``None`` (unknown or expired).

    The lookup is by the token's digest, so no secret is compared byte by byte.
    """
    found: str | None = await redis.get(keys.live_token(digest(token)))
    if found is None:
        return None
    merchant_id, _, api_key_id = found.partition(" ")
    return merchant_id, api_key_id or None
