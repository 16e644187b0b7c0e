"""Poison isolation for webhook deliveries (stream entries have :class:`hub.infra.group_consumer.Poison`).

A delivery that fails on its data is retried a bounded number of times, then dead-lettered;
Redis going away is not the delivery's fault (:func:`is_outage`) and is retried for as long
as it lasts. Nothing is dropped silently and no process crash-loops on data.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest import deadletter

log = logging.getLogger(__name__)

PROVIDER = "hub"  # a dead letter's provider when the hub itself gave up on it (not a provider's payload)
OUTAGES: tuple[type[BaseException], ...] = (*UNAVAILABLE, OSError, TimeoutError)


def is_outage(exc: BaseException) -> bool:
    """Redis unreachable, restarting, loading or failing over: wait, the item is not to blame."""
    return isinstance(exc, OUTAGES)


def describe(exc: BaseException) -> str:
    """The reason kept with a dead letter: the error's type and message, safe to store as UTF-8."""
    text = f"{type(exc).__name__}: {exc}"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:1000]


def as_bytes(text: str) -> bytes:
    """Text as it was, lone surrogates included (the dead letter then shows it as base64)."""
    return text.encode("utf-8", "surrogatepass")


async def give_up(
    redis: Any, *, source: str, kind: str, reason: str, body: bytes, merchant_id: str | None = None
) -> str:
    """Keep the item in the dead-letter stream; returns the dead letter's id."""
    log.error("%s: %s dead-lettered after repeated failures: %s", source, kind, reason)
    return await deadletter.add(
        redis, provider=PROVIDER, kind=kind, channel=source, reason=reason, body=body, merchant_id=merchant_id
    )
