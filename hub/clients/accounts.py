"""Provider account health: a refused credential pauses the account, and is said once.

The first worker to see a 401 sets the pause (``SET NX``) and logs it; the others find
the pause and wait quietly. ``/readyz`` lists paused accounts via :func:`unhealthy`.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from hub import keys
from hub.clients import account_id
from hub.settings import PROVIDERS, Settings

log = logging.getLogger(__name__)


async def mark_unauthorized(redis: Redis, provider: str, account: str, reason: str, pause_s: float) -> bool:
    """Pause the account; True (and one log line) only for the worker that paused it."""
    first = bool(
        await redis.set(keys.provider_unhealthy(provider, account), reason, px=int(pause_s * 1000), nx=True)
    )
    if first:
        log.error(
            "%s account %s unauthorized, polls paused for %.0f s: %s", provider, account, pause_s, reason
        )
    return first


async def paused_ms(redis: Redis, provider: str, account: str) -> int:
    """How much longer the account's polls are paused (0: not paused)."""
    return max(0, int(await redis.pttl(keys.provider_unhealthy(provider, account))))


async def unhealthy(redis: Redis, settings: Settings) -> dict[str, str]:
    """``{provider: reason}`` for every configured provider account currently paused."""
    names = list(PROVIDERS)
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.get(keys.provider_unhealthy(name, account_id(settings, name)))
    reasons = await pipe.execute()
    return {name: str(reason) for name, reason in zip(names, reasons, strict=True) if reason}
