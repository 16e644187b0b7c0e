"""Redis clients, built from settings (never at import time).

``HUB_REDIS_CLUSTER=true`` makes ``HUB_REDIS_URL`` name one node of a Redis Cluster; the
client discovers the others. Every key of one shipment shares a hash tag, so the hub's
scripts and pipelines work the same on a cluster.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from hub.errors import ConfigError
from hub.settings import Settings

MAX_CONNECTIONS = 100  # per process
POOL_TIMEOUT_S = 20.0


def connect(settings: Settings) -> Any:
    """A ``Redis`` or ``RedisCluster`` client (they share the command API the hub uses)."""
    if not settings.redis_url:
        raise ConfigError("HUB_REDIS_URL is not set (hub dev starts an embedded server and sets it for you)")
    if settings.redis_cluster:
        return RedisCluster.from_url(settings.redis_url, decode_responses=True)
    # A busy process waits for a free connection instead of failing with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        health_check_interval=30,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_TIMEOUT_S,
    )
    return Redis.from_pool(pool)
