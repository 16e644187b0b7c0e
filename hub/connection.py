"""Redis clients, built from settings (never at import time)."""

from __future__ import annotations

from redis.asyncio import Redis

from hub.errors import ConfigError
from hub.settings import Settings


def connect(settings: Settings) -> Redis:
    if not settings.redis_url:
        raise ConfigError("HUB_REDIS_URL is not set (hub dev starts an embedded server and sets it for you)")
    return Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
