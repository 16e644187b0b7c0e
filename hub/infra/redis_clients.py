"""Redis clients, built from settings (never at import time).

``HUB_REDIS_CLUSTER=true`` makes ``HUB_REDIS_URL`` name one node of a Redis Cluster; the
client discovers the others. Every key of one shipment shares a hash tag, so the hub's
scripts and pipelines work the same on a cluster.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.driver_info import DriverInfo
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.errors import ConfigError
from hub.settings import Settings

# Redis is away or failing over: retried as long as it takes, never held against an entry.
UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
    MasterDownError,
    ClusterDownError,
)

MAX_CONNECTIONS = 100  # per process


@functools.cache
def driver() -> DriverInfo:
    """One for every pool: without it each new connection reads redis-py's version from the package
    metadata (importlib.metadata parses it, about 1 ms), which a receiver's pool growing under a burst
    of requests paid dozens of times (py-spy on bench/ingest.py: 9% of the receiver's CPU)."""
    return DriverInfo()


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
        driver_info=driver(),
    )
    return Redis.from_pool(pool)


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


async def run_scripts(redis: Any, calls: Sequence[tuple[AsyncScript, list[str], list[Any]]]) -> list[Any]:
    """Run ``(script, keys, args)`` calls in order: one pipeline on a single server. A cluster's
    client pipelines no scripts, so there the calls of each slot run one after the other (in
    order: a lane's deliveries must be created in sequence) and the slots concurrently.

    On a single server the calls go as plain ``EVALSHA``: redis-py's own script pipelining asks
    ``SCRIPT EXISTS`` first, a round trip more per batch. A script Redis no longer holds (a
    restart, ``SCRIPT FLUSH``) fails with ``NOSCRIPT`` without running; those calls run again,
    in order, through redis-py, which loads the script first.
    """
    if len(calls) == 1:
        script, script_keys, args = calls[0]
        return [await script(keys=script_keys, args=args)]
    if not is_cluster(redis):
        return await _pipelined(redis, calls)
    by_slot: dict[int, list[int]] = {}
    for index, (_, script_keys, _) in enumerate(calls):
        by_slot.setdefault(redis.keyslot(script_keys[0]), []).append(index)
    results: list[Any] = [None] * len(calls)

    async def in_order(indexes: list[int]) -> None:
        for index in indexes:
            script, script_keys, args = calls[index]
            results[index] = await script(keys=script_keys, args=args)

    await asyncio.gather(*(in_order(indexes) for indexes in by_slot.values()))
    return results


async def _pipelined(redis: Redis, calls: Sequence[tuple[AsyncScript, list[str], list[Any]]]) -> list[Any]:
    pipe = redis.pipeline(transaction=False)
    for script, script_keys, args in calls:
        pipe.evalsha(script.sha, len(script_keys), *script_keys, *args)
    results: list[Any] = await pipe.execute(raise_on_error=False)
    missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        retry = redis.pipeline(transaction=False)
        for index in missing:
            script, script_keys, args = calls[index]
            await script(keys=script_keys, args=args, client=retry)
        for index, result in zip(missing, await retry.execute(raise_on_error=False), strict=True):
            results[index] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def waiting_client(settings: Settings, max_connections: int) -> Any:
    """A client whose pool makes callers wait when all its connections are busy (not raise);
    on a cluster, the cluster client (it opens connections to each node as needed)."""
    if settings.redis_cluster:
        return connect(settings)
    pool = BlockingConnectionPool.from_url(
        str(settings.redis_url),
        decode_responses=True,
        max_connections=max_connections,
        timeout=None,
        driver_info=driver(),
    )
    return Redis(connection_pool=pool)
