"""A merchant subscribes to ``shipment.delayed`` through the API and receives it, once, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx
import pytest
from redis.asyncio import Redis

from hub.api.app import create_app
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.delays import DelayChecker
from tests.conftest import ROOT, bearer, create_merchant
from tests.servers import ServerThread
from tests.webhooks.conftest import Hub, Receiver, eventually

TRACKING = (ROOT / "tests/fixtures/hld/tracking_on_the_way.json").read_bytes()  # delivery_eta 11:15Z


@pytest.fixture
async def api(wh_settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    with ServerThread(lambda url: create_app(wh_settings.replace(public_url=url))) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client


@pytest.fixture
async def ingestor_for(hub: Hub) -> AsyncIterator[Ingestor]:
    made = Ingestor(hub.redis, hub.settings, hub.store)
    yield made
    await made.close()


async def subscribe(api: httpx.AsyncClient, key: str, receiver: Receiver, url: str, **extra: object) -> None:
    response = await api.post("/v1/webhooks/endpoints", json={"url": url, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    receiver.secrets.append(response.json()["secret"])


async def test_an_endpoint_subscribed_to_delays_receives_the_late_shipment_once(
    hub: Hub, api: httpx.AsyncClient, receivers: Callable[..., tuple[Receiver, str]], ingestor_for: Ingestor
) -> None:
    shop = await create_merchant(api, "Shop")
    late_only, url = receivers()
    everything, url_all = receivers()
    await subscribe(api, shop["api_key"], late_only, url, event_types=["shipment.delayed"])
    await subscribe(api, shop["api_key"], everything, url_all)
    shipment, _ = await shipments.register(hub.redis, shop["id"], "hld", "HLD67890ABCDEF")
    await ingestor_for.ingest_raw("hld", "tracking", TRACKING, Channel.POLL, ref="HLD67890ABCDEF")
    checker = DelayChecker(hub.redis, hub.settings, hub.store)
    late = datetime.fromisoformat("2026-04-04T11:30:00+00:00")
    assert [(await checker.check(shipment.id, late)).result for _ in range(2)] == ["published", "duplicate"]

    await eventually(lambda: late_only.accepted(), 20, "the delay at the subscribed endpoint")
    await eventually(
        lambda: any(r.event["type"] == "shipment.delayed" for r in everything.accepted()), 20, "the catch-all"
    )
    [received] = late_only.accepted()
    assert received.event["type"] == "shipment.delayed"
    assert received.event["data"]["shipment_id"] == shipment.id
    assert received.event["data"]["eta"] == "2026-04-04T11:15:00.000Z"
    assert [r.event["type"] for r in everything.accepted()].count("shipment.delayed") == 1


async def test_an_unknown_event_type_is_still_refused_beside_the_new_one(
    api: httpx.AsyncClient, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    shop = await create_merchant(api, "Shop")
    _, url = receivers()
    response = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": url, "event_types": ["shipment.delayed", "shipment.late"]},
        headers=bearer(shop["api_key"]),
    )
    assert response.status_code == 422, response.text
    assert "event_types" in response.text
