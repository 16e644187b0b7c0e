"""The /v1/webhooks API over real HTTP, with the pipeline running behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.settings import Secret, Settings
from tests.conftest import admin_headers, bearer, create_merchant
from tests.servers import ServerThread
from tests.webhooks.conftest import Hub, Receiver, eventually

MASTER_KEY = "hJ8n0cW6JtJ1rA3Vm2W2nqkz7eC2YlX0m3eL1Tq8D0Y="


@pytest.fixture
def api_settings(wh_settings: Settings) -> Settings:
    return wh_settings.replace(webhook_master_keys=(Secret(MASTER_KEY),))


@pytest.fixture
async def running(redis: Redis, api_settings: Settings) -> AsyncIterator[Hub]:
    hub = Hub(redis, api_settings)
    await hub.start()
    yield hub
    await hub.close()


async def subscribe(api: httpx.AsyncClient, key: str, url: str, **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/webhooks/endpoints", json={"url": url, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_subscribe_read_update_pause_and_delete(api: httpx.AsyncClient, redis: Redis) -> None:
    shop = await create_merchant(api, "Shop")
    key = shop["api_key"]
    created = await subscribe(
        api, key, "https://shop.example/hooks", providers=["alod"], description="orders"
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) >= 6 + 32
    endpoint_id = created["id"]

    listed = (await api.get("/v1/webhooks/endpoints", headers=bearer(key))).json()["data"]
    assert [e["id"] for e in listed] == [endpoint_id] and "secret" not in listed[0]
    stored = await redis.hgetall(keys.webhook_endpoint(endpoint_id))
    dump = repr(stored)
    assert created["secret"] not in dump and created["secret"][6:] not in dump  # sealed with the master key

    patched = await api.patch(
        f"/v1/webhooks/endpoints/{endpoint_id}",
        json={"event_types": ["shipment.status_changed"]},
        headers=bearer(key),
    )
    assert patched.json()["event_types"] == ["shipment.status_changed"] and patched.json()["providers"] == [
        "alod"
    ]
    paused = await api.post(f"/v1/webhooks/endpoints/{endpoint_id}/pause", headers=bearer(key))
    assert paused.json()["state"] == "paused"
    resumed = await api.post(f"/v1/webhooks/endpoints/{endpoint_id}/resume", headers=bearer(key))
    assert resumed.json()["state"] == "active"
    rotated = await api.post(f"/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", headers=bearer(key))
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["secret_rotation_ends_ms"]

    assert (await api.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=bearer(key))).status_code == 204
    gone = await api.get(f"/v1/webhooks/endpoints/{endpoint_id}", headers=bearer(key))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_merchants_see_only_their_own_and_the_admin_sees_all(api: httpx.AsyncClient) -> None:
    one, two = await create_merchant(api, "One"), await create_merchant(api, "Two")
    mine = await subscribe(api, one["api_key"], "https://one.example/h")
    await subscribe(api, two["api_key"], "https://two.example/h")
    other = await api.get(f"/v1/webhooks/endpoints/{mine['id']}", headers=bearer(two["api_key"]))
    assert other.status_code == 404
    everything = (await api.get("/v1/webhooks/endpoints", headers=admin_headers())).json()["data"]
    assert len(everything) == 2
    by_admin = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": "https://x.example/h", "merchant_id": two["id"]},
        headers=admin_headers(),
    )
    assert by_admin.status_code == 201 and by_admin.json()["merchant_id"] == two["id"]
    assert (await api.get("/v1/webhooks/endpoints", headers=bearer("hk_wrong"))).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://shop.example/h"}, "url"),
        ({"url": "https://user:pw@shop.example/h"}, "url"),
        ({"url": "https://shop.example/h", "event_types": ["shipment.teleported"]}, "event_types"),
        ({"url": "https://shop.example/h", "providers": ["fedex"]}, "providers"),
        ({"url": "https://shop.example/h", "shipment_ids": "shp_1"}, "shipment_ids"),
        ({}, "url"),
    ],
)
async def test_invalid_subscriptions_get_a_precise_422(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    shop = await create_merchant(api, "Shop")
    response = await api.post("/v1/webhooks/endpoints", json=body, headers=bearer(shop["api_key"]))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_plain_http_is_refused_unless_allowed(redis: Redis, settings: Settings) -> None:
    with ServerThread(lambda url: create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url) as api:
            shop = await create_merchant(api, "Shop")
            response = await api.post(
                "/v1/webhooks/endpoints",
                json={"url": "http://shop.example/h"},
                headers=bearer(shop["api_key"]),
            )
    assert response.status_code == 422 and "HUB_WEBHOOK_ALLOW_HTTP" in response.json()["error"]["message"]


async def test_test_event_deliveries_attempts_and_retrying_one(
    api: httpx.AsyncClient, running: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers(lambda count, event: (500, {}, 0.0) if count == 1 else (200, {}, 0.0))
    shop = await create_merchant(api, "Shop")
    key = shop["api_key"]
    endpoint = await subscribe(api, key, url)
    receiver.secrets.append(endpoint["secret"])

    queued = await api.post(f"/v1/webhooks/endpoints/{endpoint['id']}/test", headers=bearer(key))
    assert queued.status_code == 202
    delivery_id = queued.json()["id"]
    await eventually(lambda: receiver.accepted(), 20, "the test event")
    assert receiver.accepted()[0].event["type"] == "webhook.test"

    async def succeeded() -> bool:
        view = (await api.get(f"/v1/webhooks/deliveries/{delivery_id}", headers=bearer(key))).json()
        return bool(view["status"] == "succeeded")

    await eventually(succeeded, 20, "the delivery recorded as succeeded")
    view = (await api.get(f"/v1/webhooks/deliveries/{delivery_id}", headers=bearer(key))).json()
    assert [a["status"] for a in view["attempts"]] == [500, 200]
    assert view["attempts"][0]["body"] == "no" and view["attempts"][1]["latency_ms"] >= 0
    listed = (
        await api.get(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=bearer(key))
    ).json()
    assert [d["id"] for d in listed["data"]] == [delivery_id]

    again = await api.post(f"/v1/webhooks/deliveries/{delivery_id}/retry", headers=bearer(key))
    assert again.status_code == 202
    await eventually(lambda: len(receiver.accepted()) == 2, 20, "the delivery sent again")
    assert receiver.accepted()[1].msg_id == receiver.accepted()[0].msg_id == delivery_id


async def test_recovery_by_time_range_redelivers_exactly_the_failed_ones(
    api: httpx.AsyncClient,
    redis: Redis,
    api_settings: Settings,
    receivers: Callable[..., tuple[Receiver, str]],
) -> None:
    down = True
    receiver, url = receivers(lambda count, event: (503, {}, 0.0) if down else (200, {}, 0.0))
    shop = await create_merchant(api, "Shop")
    key = shop["api_key"]
    endpoint = await subscribe(api, key, url)
    receiver.secrets.append(endpoint["secret"])
    hub = Hub(redis, api_settings.replace(webhook_retry_schedule_s=(0.1,)))
    await hub.start()
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        failed = await hub.emit("shp_1", merchant_id=shop["id"], count=3)
        failed_ids = {e["id"] for e in failed}
        await eventually(lambda: len(receiver.requests) >= 6, 20, "two failed attempts for each event")
        await eventually(
            lambda: _statuses(api, key, endpoint["id"], {"failed"}), 20, "three failed deliveries"
        )
        down = False
        later = await hub.emit("shp_2", merchant_id=shop["id"], count=1)
        await eventually(lambda: len(receiver.accepted()) == 1, 20, "a later event delivered normally")

        recovered = await api.post(
            f"/v1/webhooks/endpoints/{endpoint['id']}/recover",
            json={"since": before.isoformat()},
            headers=bearer(key),
        )
        assert recovered.status_code == 202 and recovered.json()["requeued"] == 3
        await eventually(lambda: len(receiver.accepted()) == 4, 20, "the three failed ones again")
        redelivered = [r.event for r in receiver.accepted()[1:]]
        assert {e["id"] for e in redelivered} == failed_ids and [e["sequence"] for e in redelivered] == [
            1,
            2,
            3,
        ]
        assert receiver.accepted()[0].event["id"] == later[0]["id"]
    finally:
        await hub.close()


async def _statuses(api: httpx.AsyncClient, key: str, endpoint_id: str, wanted: set[str]) -> bool:
    found = (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", headers=bearer(key))).json()[
        "data"
    ]
    return len(found) == 3 and {d["status"] for d in found} == wanted


async def test_recover_needs_a_zoned_time(api: httpx.AsyncClient) -> None:
    shop = await create_merchant(api, "Shop")
    endpoint = await subscribe(api, shop["api_key"], "https://shop.example/h")
    response = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/recover",
        json={"since": "yesterday"},
        headers=bearer(shop["api_key"]),
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "since"
