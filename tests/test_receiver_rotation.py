"""Rotating the Alopeyk receiver secret: a new URL at once, the old one for the overlap, then 404."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.settings import Settings
from tests.conftest import bearer, create_merchant, inbox_drained, normalize
from tests.servers import LoopThread, ServerThread, eventually
from tests.test_alopeyk_receiver import webhook_body

OVERLAP_S = 3.0
SEEN_WITHIN_S = 5.0  # the gate rechecks each second; a loaded box gets a margin


@pytest.fixture
def overlap_settings(settings: Settings) -> Settings:
    return settings.replace(receiver_secret_overlap_s=OVERLAP_S)


@pytest.fixture
def two_servers(overlap_settings: Settings, redis: Redis) -> Iterator[tuple[ServerThread, ServerThread]]:
    def app(url: str) -> Any:
        return create_app(overlap_settings.replace(public_url=url))

    normalizer = LoopThread(lambda stop: normalize(overlap_settings, stop))
    with ServerThread(app) as one, ServerThread(app) as two, normalizer:
        yield one, two


@pytest.fixture
async def clients(
    two_servers: tuple[ServerThread, ServerThread],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one.url, timeout=10) as first,
        httpx.AsyncClient(base_url=two.url, timeout=10) as second,
    ):
        yield first, second


def path_of(url: str) -> str:
    return httpx.URL(url).path


async def post(client: httpx.AsyncClient, url: str, order_id: int) -> int:
    return (await client.post(path_of(url), json=webhook_body(id=order_id))).status_code


async def test_the_old_url_works_during_the_overlap_on_every_instance_then_answers_404(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], redis: Redis
) -> None:
    first, second = clients
    shop = await create_merchant(first, "Shop")
    old_url = shop["alopeyk_webhook_url"]
    for client in clients:  # both instances cache the old secret's merchant
        assert await post(client, old_url, 9001) == 202

    rotated = await first.post("/v1/receivers/alopeyk/rotate", headers=bearer(shop["api_key"]))
    assert rotated.status_code == 201, rotated.text
    new_url = rotated.json()["alopeyk_webhook_url"]
    assert new_url != old_url and rotated.json()["previous_url_valid_until_ms"]
    assert path_of(new_url).startswith("/ingest/alopeyk/")

    for client in clients:  # both URLs are accepted during the overlap, by both instances
        assert await post(client, new_url, 9002) == 202
        assert await post(client, old_url, 9003) == 202
    await inbox_drained(redis)
    events = [fields for _, fields in await redis.xrange(keys.EVENTS)]
    assert events and all(shop["id"] in fields["event"] for fields in events)  # the same merchant's

    async def old_refused_everywhere() -> bool:
        return all([await post(client, old_url, 9004) == 404 for client in clients])

    await eventually(old_refused_everywhere, "the old URL answering 404", OVERLAP_S + SEEN_WITHIN_S)
    refused = await second.post(path_of(old_url), json=webhook_body(id=9005))
    assert refused.json()["error"] == {"code": "not_found", "message": "no receiver at this URL"}
    for client in clients:
        assert await post(client, new_url, 9006) == 202


async def test_a_second_rotation_ends_the_first_overlap_at_once(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    shop = await create_merchant(first, "Shop")
    oldest = shop["alopeyk_webhook_url"]
    middle = (await first.post("/v1/receivers/alopeyk/rotate", headers=bearer(shop["api_key"]))).json()
    assert await post(second, oldest, 9101) == 202  # warm the second instance's cache
    newest = (await first.post("/v1/receivers/alopeyk/rotate", headers=bearer(shop["api_key"]))).json()

    async def oldest_refused() -> bool:
        return all([await post(client, oldest, 9102) == 404 for client in clients])

    await eventually(oldest_refused, "the oldest URL refused", SEEN_WITHIN_S)
    for client in clients:
        assert await post(client, middle["alopeyk_webhook_url"], 9103) == 202  # within its overlap
        assert await post(client, newest["alopeyk_webhook_url"], 9104) == 202


async def test_rotation_with_no_overlap_refuses_the_old_url_at_once(settings: Settings, redis: Redis) -> None:
    with ServerThread(
        lambda url: create_app(settings.replace(public_url=url, receiver_secret_overlap_s=0))
    ) as hub:
        async with httpx.AsyncClient(base_url=hub.url, timeout=10) as http:
            shop = await create_merchant(http, "Shop")
            assert await post(http, shop["alopeyk_webhook_url"], 9201) == 202
            rotated = await http.post("/v1/receivers/alopeyk/rotate", headers=bearer(shop["api_key"]))
            assert rotated.json()["previous_url_valid_until_ms"] is None

            async def refused() -> bool:
                return await post(http, shop["alopeyk_webhook_url"], 9202) == 404

            await eventually(refused, "the old URL refused", SEEN_WITHIN_S)
            assert await post(http, rotated.json()["alopeyk_webhook_url"], 9203) == 202


async def test_rotation_refuses_bad_bodies_and_other_credentials(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    key = bearer(merchant["api_key"])
    for body, status in [
        (b"nope", 400),
        (b"[]", 422),
        (b'"x"', 422),
        (b"[" * 30_000, 422),
        (b'{"a": "\\ud800"}', 400),
    ]:
        answer = await http.post("/v1/receivers/alopeyk/rotate", content=body, headers=key)
        assert answer.status_code == status, body[:20]
    assert (await http.post("/v1/receivers/alopeyk/rotate", json={}, headers=key)).status_code == 201
    assert (await http.post("/v1/receivers/alopeyk/rotate")).status_code == 401
    admin = await http.post("/v1/receivers/alopeyk/rotate", headers=bearer("test-admin-token"))
    assert admin.status_code == 401  # the admin token is no merchant's key
