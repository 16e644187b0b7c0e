"""Test fixtures: a real Redis-protocol server per session, real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.dev.embedded import EmbeddedRedis
from hub.infra.redis_clients import connect
from hub.ingest.normalizer import Normalizer
from hub.ingest.pipeline import Ingestor
from hub.settings import Settings
from tests.servers import LoopThread, ServerThread

ADMIN_TOKEN = "test-admin-token"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server: HUB_TEST_REDIS_URL when given, else the embedded valkey-server."""
    if os.environ.get("HUB_TEST_REDIS_URL"):
        yield os.environ["HUB_TEST_REDIS_URL"]
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings.from_env(
        {"HUB_REDIS_URL": redis_url, "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_MAX_BODY_BYTES": "65536"}
    )


@pytest.fixture
async def ingestor(redis: Redis, settings: Settings) -> AsyncIterator[Ingestor]:
    """An in-process ingestor, closed after the test (it writes its metrics before the loop ends)."""
    made = Ingestor(redis, settings)
    yield made
    await made.close()


@pytest.fixture
def hub_server(settings: Settings, redis: Redis) -> Iterator[ServerThread]:
    """The hub's ASGI app served by uvicorn on a free loopback port, with a normalizer behind it."""
    server = ServerThread(lambda base_url: create_app(settings.replace(public_url=base_url)))
    with server, LoopThread(lambda stop: normalize(settings, stop)):
        yield server


async def normalize(settings: Settings, stop: asyncio.Event) -> None:
    """What ``hub normalizer`` does, on a loop of its own."""
    redis = connect(settings)
    try:
        await Normalizer(redis, settings).run(stop)
    finally:
        await redis.aclose()


async def inbox_drained(redis: Redis, timeout_s: float = 10.0) -> None:
    """Wait until the normalizer has turned every accepted payload into events (or dead letters)."""
    deadline = time.monotonic() + timeout_s
    while await redis.xlen(keys.INBOX):
        assert time.monotonic() < deadline, f"the inbox still holds payloads after {timeout_s} s"
        await asyncio.sleep(0.01)


@pytest.fixture
async def http(hub_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub_server.url, timeout=10) as client:
        yield client


@pytest.fixture
async def merchant(http: httpx.AsyncClient) -> dict[str, Any]:
    return await create_merchant(http, "Shop One")


@pytest.fixture
def second_server(settings: Settings, hub_server: ServerThread) -> Iterator[ServerThread]:
    """A second app instance on the same Redis, like a second ``hub serve`` behind a load balancer."""
    with ServerThread(lambda url: create_app(settings.replace(public_url=url))) as server:
        yield server


@pytest.fixture
async def http2(second_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=second_server.url, timeout=10) as client:
        yield client


async def create_merchant(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await http.post("/v1/merchants", json={"name": name}, headers=admin_headers())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test, so a leaked connection's ResourceWarning names the test that leaked it."""
    yield
    gc.collect()
