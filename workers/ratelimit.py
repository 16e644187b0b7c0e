"""Per provider account request limits, shared by every worker through Redis.

A sliding log per window (sorted set of request times, Redis' own clock): a request is
allowed only when every window has room, so Alopeyk's 100/minute and 43,200/day hold
however many workers poll. A provider's own "slow down" (429 ``Retry-After``, remaining
0) is a key with a TTL that makes every worker wait it out.

A provider counts a request when it arrives, which is some time after we allowed it (a
busy event loop, a new connection). So a request is logged as in flight (counted until
``in_flight_ms`` from now) and, once its answer is back, re-logged at that moment
(:meth:`RateLimiter.sent`): whenever a request is allowed, every request that may arrive in
the same window is still in the log, and the limit holds where the provider counts it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.settings import RateLimit

# KEYS[1] slowdown, KEYS[2..] windows; ARGV[1] member, ARGV[2] in-flight ms, then (limit, window_ms)
# per window. Returns 0 when the request may go, else how many ms to wait.
_ACQUIRE = """
local slow = redis.call('PTTL', KEYS[1])
if slow > 0 then return slow end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local in_flight = tonumber(ARGV[2])
for i = 2, #KEYS do
  local limit, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    -- all in flight: the first answer back re-logs its request now, which frees a slot a window later
    return math.max(1, math.min(tonumber(oldest[2]), now) + window - now)
  end
end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now + in_flight, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i]) + in_flight)
end
return 0
"""

# KEYS: the windows; ARGV[1] member. The answer is back: the request arrived by now.
_SENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1])
end
return 0
"""


@dataclass(frozen=True)
class Permit:
    """The limiter's answer: wait ``wait_ms``, or (0) send now and report :meth:`RateLimiter.sent`."""

    wait_ms: int
    window_keys: list[str]
    member: str


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.acquire_script: Any = redis.register_script(_ACQUIRE)
        self.sent_script: Any = redis.register_script(_SENT)

    async def acquire(
        self, provider: str, account: str, limits: tuple[RateLimit, ...], in_flight_ms: int
    ) -> Permit:
        """May a request be sent now (it is then counted until ``in_flight_ms`` or :meth:`sent`)?"""
        window_keys = [keys.rate_window(provider, account, limit.window_s) for limit in limits]
        member = secrets.token_hex(8)
        args: list[str | int] = [member, in_flight_ms]
        for limit in limits:
            args += [limit.requests, limit.window_s * 1000]
        wait_ms: int = await self.acquire_script(
            keys=[keys.provider_slowdown(provider, account), *window_keys], args=args
        )
        return Permit(int(wait_ms), window_keys, member)

    async def sent(self, permit: Permit) -> None:
        """The answer is back: count the request at this moment instead of as in flight."""
        if permit.window_keys:
            await self.sent_script(keys=permit.window_keys, args=[permit.member])

    async def slow_down(self, provider: str, account: str, wait_s: float) -> None:
        """Every worker holds this account's requests for ``wait_s`` (never shortens a longer wait)."""
        key = keys.provider_slowdown(provider, account)
        wait_ms = max(1, int(wait_s * 1000))
        if await self.redis.pttl(key) < wait_ms:
            await self.redis.set(key, "1", px=wait_ms)
