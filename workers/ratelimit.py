"""Per provider account request limits, shared by every worker through Redis.

A sliding log per window (sorted set of request times, Redis' own clock): a request is
allowed only when every window has room, so Alopeyk's 100/minute and 43,200/day hold
however many workers poll. A provider's own "slow down" (429 ``Retry-After``, remaining
0) is a key with a TTL that makes every worker wait it out.
"""

from __future__ import annotations

import secrets
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.settings import RateLimit

# KEYS[1] slowdown, KEYS[2..] windows; ARGV[1] member, then (limit, window_ms) per window.
# Returns 0 when the request may go, else how many ms to wait.
_ACQUIRE = """
local slow = redis.call('PTTL', KEYS[1])
if slow > 0 then return slow end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #KEYS do
  local limit, window = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
  end
end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i - 1]))
end
return 0
"""


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.script: Any = redis.register_script(_ACQUIRE)

    async def acquire(self, provider: str, account: str, limits: tuple[RateLimit, ...]) -> int:
        """0 when a request may be sent now (and counts it), else the wait in ms."""
        window_keys = [keys.rate_window(provider, account, limit.window_s) for limit in limits]
        args: list[str | int] = [secrets.token_hex(8)]
        for limit in limits:
            args += [limit.requests, limit.window_s * 1000]
        wait_ms: int = await self.script(
            keys=[keys.provider_slowdown(provider, account), *window_keys], args=args
        )
        return int(wait_ms)

    async def slow_down(self, provider: str, account: str, wait_s: float) -> None:
        """Every worker holds this account's requests for ``wait_s`` (never shortens a longer wait)."""
        key = keys.provider_slowdown(provider, account)
        wait_ms = max(1, int(wait_s * 1000))
        if await self.redis.pttl(key) < wait_ms:
            await self.redis.set(key, "1", px=wait_ms)
