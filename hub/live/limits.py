"""Open-socket limits per client IP and per merchant, held across every hub process.

Each open socket holds a lease in Redis: its id in a sorted set of its client IP, of its
merchant (merchant-scope sockets) and of its protocol, scored by when the lease expires.
One script prunes expired leases, checks the limits and takes the places atomically, so
two processes cannot both take the last place. A closing socket gives its places back
at once; a process renews its sockets' leases every third of ``HUB_LIVE_LEASE_S``, so the
places of a process that dies free themselves within one lease. The protocol sets count
the open sockets of the whole hub for ``/metrics``.

All the sets share the hash tag ``{live}`` (one Redis Cluster slot), so one script call
renews every lease of a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.errors import HubError

log = logging.getLogger(__name__)

PROTOCOLS = ("native", "pusher")

_NOW_MS = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: the protocol's set, then each limited set; ARGV: socket id, lease ms, then each limit.
# Returns 0 when the places are taken, else the position of the limited set that is full.
_ACQUIRE = (
    _NOW_MS
    + """
local lease_ms = tonumber(ARGV[2])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms)
  if i > 1 and redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[i + 1]) then
    return i - 1
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now_ms + lease_ms, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease_ms)
end
return 0
"""
)

# KEYS: sets; ARGV: lease ms, then for each set the number of socket ids and the ids.
# XX: a lease given back meanwhile stays given back.
_RENEW = (
    _NOW_MS
    + """
local lease_ms = tonumber(ARGV[1])
local at = 2
for k = 1, #KEYS do
  local count = tonumber(ARGV[at])
  for i = at + 1, at + count do
    redis.call('ZADD', KEYS[k], 'XX', now_ms + lease_ms, ARGV[i])
  end
  at = at + count + 1
  redis.call('PEXPIRE', KEYS[k], lease_ms)
end
return 0
"""
)

_RELEASE = "for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end\nreturn 0\n"

# KEYS: protocol sets. The number of unexpired leases in each.
_COUNT = (
    _NOW_MS
    + """
local counts = {}
for i = 1, #KEYS do counts[i] = redis.call('ZCOUNT', KEYS[i], '(' .. now_ms, '+inf') end
return counts
"""
)


class TooManyConnections(HubError):
    """A client IP or a merchant already holds as many live sockets as allowed."""


class Limits:
    def __init__(self, redis: Redis, max_per_ip: int, max_per_merchant: int, lease_s: float) -> None:
        self.redis = redis
        self.max_per_ip = max_per_ip
        self.max_per_merchant = max_per_merchant
        self.lease_ms = max(1, int(lease_s * 1000))
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._process = secrets.token_hex(6)
        self._numbers = itertools.count()
        self._held: dict[str, list[str]] = {}  # socket id -> its sets

    def __len__(self) -> int:
        return len(self._held)

    @contextlib.asynccontextmanager
    async def hold(self, protocol: str, ip: str, merchant_id: str | None = None) -> AsyncIterator[None]:
        """One socket's places, given back when it closes; ``TooManyConnections`` when full."""
        socket_id = f"{self._process}.{next(self._numbers)}"
        sets = [keys.live_sockets("protocol", protocol), keys.live_sockets("ip", ip)]
        limits = [self.max_per_ip]
        if merchant_id is not None:
            sets.append(keys.live_sockets("merchant", merchant_id))
            limits.append(self.max_per_merchant)
        full = int(await self._acquire(keys=sets, args=[socket_id, self.lease_ms, *limits]))
        if full == 1:
            raise TooManyConnections(f"too many live connections from {ip} (limit {self.max_per_ip})")
        if full == 2:
            raise TooManyConnections(
                f"too many live connections for merchant {merchant_id} (limit {self.max_per_merchant})"
            )
        self._held[socket_id] = sets
        try:
            yield
        finally:
            del self._held[socket_id]
            try:
                await self._release(keys=sets, args=[socket_id])
            except RedisError as exc:  # the lease runs out by itself
                log.warning("live socket %s not given back (%s); its lease will expire", socket_id, exc)

    async def renew(self) -> None:
        """Extend the lease of every socket this process holds, in one script call."""
        by_set: dict[str, list[str]] = {}
        for socket_id, sets in self._held.items():
            for name in sets:
                by_set.setdefault(name, []).append(socket_id)
        if not by_set:
            return
        args: list[str | int] = [self.lease_ms]
        for socket_ids in by_set.values():
            args += [len(socket_ids), *socket_ids]
        await self._renew(keys=list(by_set), args=args)

    async def keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.renew()
            except RedisError as exc:
                log.warning("live socket leases not renewed (%s); retrying", exc)


async def open_sockets(redis: Redis) -> dict[str, int]:
    """Open live sockets of the whole hub, by protocol (unexpired leases)."""
    counts = await redis.register_script(_COUNT)(keys=[keys.live_sockets("protocol", p) for p in PROTOCOLS])
    return {protocol: int(count) for protocol, count in zip(PROTOCOLS, counts, strict=True)}
