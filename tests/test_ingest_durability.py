"""HUB_INGEST_DURABILITY=fsync: a receiver's 202 means Redis fsynced the payload, or it is a clear 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub.api.app import create_app
from hub.dev.embedded import EmbeddedRedis
from hub.errors import ConfigError
from hub.ingest.inbox import Inbox
from hub.settings import Settings
from tests.conftest import ADMIN_TOKEN, create_merchant
from tests.servers import ServerThread
from tests.test_alopeyk_receiver import receiver_path, webhook_body


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of its own: these tests change its persistence settings."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
async def own_redis(own_server: EmbeddedRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(own_server.url, decode_responses=True)
    yield client
    await client.aclose()


def hub_settings(url: str, durability: str) -> Settings:
    return Settings.from_env(
        {
            "HUB_REDIS_URL": url,
            "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
            "HUB_INGEST_DURABILITY": durability,
            "HUB_INGEST_FSYNC_TIMEOUT_MS": "300",
        }
    )


async def waitaof_calls(redis: Redis) -> int:
    stats: dict[str, Any] = await redis.info("commandstats")
    return int(stats.get("cmdstat_waitaof", {}).get("calls", 0))


async def post_concurrently(settings: Settings, count: int) -> list[httpx.Response]:
    with ServerThread(lambda base_url: create_app(settings.replace(public_url=base_url))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            merchant = await create_merchant(http, "Shop")
            path = receiver_path(merchant)
            return list(
                await asyncio.gather(*(http.post(path, json=webhook_body(id=n)) for n in range(count)))
            )


async def test_with_fsync_every_202_follows_a_confirmed_fsync_shared_by_concurrent_requests(
    own_server: EmbeddedRedis, own_redis: Redis
) -> None:
    responses = await post_concurrently(hub_settings(own_server.url, "fsync"), 40)

    assert [r.status_code for r in responses] == [202] * 40
    calls = await waitaof_calls(own_redis)
    assert 1 <= calls <= 20, f"{calls} WAITAOF for 40 concurrent requests: not shared per group"
    persistence = await own_redis.info("persistence")
    assert persistence["aof_enabled"] == 1 and persistence["aof_last_write_status"] == "ok"


async def test_written_durability_never_waits_for_the_fsync(
    own_server: EmbeddedRedis, own_redis: Redis
) -> None:
    responses = await post_concurrently(hub_settings(own_server.url, "written"), 5)
    assert [r.status_code for r in responses] == [202] * 5
    assert await waitaof_calls(own_redis) == 0


async def test_an_unconfirmed_fsync_is_a_503_never_a_202(own_server: EmbeddedRedis, own_redis: Redis) -> None:
    await own_redis.config_set("appendfsync", "no")  # Redis leaves syncing to the OS: WAITAOF times out
    responses = await post_concurrently(hub_settings(own_server.url, "fsync"), 10)
    assert [r.status_code for r in responses] == [503] * 10
    for response in responses:
        assert response.json()["error"]["code"] == "not_durable"
        assert "did not fsync within 300 ms" in response.json()["error"]["message"]
    # One wait per group, not one per request written again alone.
    assert await waitaof_calls(own_redis) <= 5


async def test_aof_turned_off_after_startup_is_a_503_that_names_the_setting(
    own_server: EmbeddedRedis, own_redis: Redis
) -> None:
    settings = hub_settings(own_server.url, "fsync")
    with ServerThread(lambda base_url: create_app(settings.replace(public_url=base_url))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            merchant = await create_merchant(http, "Shop")
            await own_redis.config_set("appendonly", "no")
            response = await http.post(receiver_path(merchant), json=webhook_body())
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_durable" and "appendonly yes" in error["message"]


async def test_fsync_without_an_append_only_file_refuses_to_start(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis", extra_args=("--appendonly", "no")) as server:
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            with pytest.raises(ConfigError, match=r"HUB_INGEST_DURABILITY=fsync needs .*appendonly yes"):
                await Inbox(redis, durability="fsync").check_durability()
            await Inbox(redis, durability="written").check_durability()  # nothing to check
        finally:
            await redis.aclose()


def test_durability_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="HUB_INGEST_DURABILITY must be one of written, fsync"):
        Settings.from_env({"HUB_INGEST_DURABILITY": "always"})
    with pytest.raises(ConfigError, match="HUB_POISON_ATTEMPTS_MAX must be at least 1"):
        Settings.from_env({"HUB_POISON_ATTEMPTS_MAX": "0"})
    assert Settings.from_env({"HUB_INGEST_DURABILITY": " fsync "}).ingest_durability == "fsync"
    with pytest.raises(ConfigError, match="covers the inbox only"):  # an inline 200 waits for no fsync
        Settings.from_env({"HUB_INGEST_DURABILITY": "fsync", "HUB_RECEIVE_INLINE": "true"})
