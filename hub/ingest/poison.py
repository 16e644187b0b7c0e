"""Poison isolation: an item that fails on its data is retried a bounded number of times, then dead-lettered.

A consumer catches an exception for the one stream entry or delivery that raised it; Redis
going away is not the item's fault (:func:`is_outage`) and is retried for as long as it
lasts. Anything else counts as an attempt; after ``HUB_POISON_ATTEMPTS_MAX`` the item is
kept in the dead-letter stream with the reason and acknowledged, so no process crash-loops
on data and nothing is dropped silently.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ReadOnlyError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.ingest import deadletter

log = logging.getLogger(__name__)

PROVIDER = "hub"  # a dead letter's provider when the hub itself gave up on it (not a provider's payload)

# Redis unreachable, restarting, loading its data or failing over: wait, the item is not to blame.
OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
    OSError,
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGES)


def describe(exc: BaseException) -> str:
    """The reason kept with a dead letter: the error's type and message, safe to store as UTF-8."""
    text = f"{type(exc).__name__}: {exc}"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:1000]


def as_bytes(text: str) -> bytes:
    """Text as it was, lone surrogates included (the dead letter then shows it as base64)."""
    return text.encode("utf-8", "surrogatepass")


async def entry_attempts(redis: Any, stream: str, group: str, entry_id: str) -> int:
    """How many times the group has handed out ``entry_id`` (1 on the first read)."""
    pending = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    return int(pending[0]["times_delivered"]) if pending else 1


async def give_up(
    redis: Any, *, source: str, kind: str, reason: str, body: bytes, merchant_id: str | None = None
) -> str:
    """Keep the item in the dead-letter stream; returns the dead letter's id."""
    log.error("%s: %s dead-lettered after repeated failures: %s", source, kind, reason)
    return await deadletter.add(
        redis,
        provider=PROVIDER,
        kind=kind,
        channel=source,
        reason=reason,
        body=body,
        merchant_id=merchant_id,
    )
