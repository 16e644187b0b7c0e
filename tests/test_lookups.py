"""Finding shipments by the merchant's and the provider's reference; the tracking link on events."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.settings import Settings
from tests.conftest import bearer, create_merchant
from tests.test_alopeyk_receiver import post_webhook, published, webhook_body
from tests.test_api import register


async def _find(http: httpx.AsyncClient, key: str, **params: Any) -> list[dict[str, Any]]:
    response = await http.get("/v1/shipments", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def _hgetall_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int((stats.get("cmdstat_hgetall") or {}).get("calls", 0))


async def test_lookups_find_exact_references_of_this_merchant_only_without_a_scan(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    key, other = merchant["api_key"], await create_merchant(http, "Shop Two")
    first = (await register(http, key, "all24", "REF-1", merchant_ref="ORDER-1")).json()
    second = (await register(http, key, "all24", "REF-2", merchant_ref="ORDER-1")).json()
    same_ref = (await register(http, key, "alod", "REF-1")).json()
    await register(http, key, "all24", "REF-10", merchant_ref="ORDER-10")  # a prefix is no match
    await register(http, other["api_key"], "all24", "REF-3", merchant_ref="ORDER-1")
    await register(http, other["api_key"], "alod", "REF-9")
    for n in range(60):  # what a scan would have to read
        await register(http, key, "alclient", f"OTHER-{n}", merchant_ref=f"X-{n}")

    await redis.config_resetstat()
    by_order = await _find(http, key, merchant_ref="ORDER-1")
    assert [s["id"] for s in by_order] == [second["id"], first["id"]]  # newest first
    assert await _hgetall_calls(redis) == 2  # one read per shipment found: an index, not a scan

    assert [s["id"] for s in await _find(http, key, provider_ref="REF-1")] == [same_ref["id"], first["id"]]
    alod = await _find(http, key, provider_ref="REF-1", provider="alod")
    assert [s["id"] for s in alod] == [same_ref["id"]]
    both = await _find(http, key, merchant_ref="ORDER-1", provider_ref="REF-2")
    assert [s["id"] for s in both] == [second["id"]]
    assert await _find(http, key, merchant_ref="ORDER-1", provider_ref="REF-9") == []
    assert await _find(http, key, provider_ref="REF-9") == []  # the other merchant's
    assert await _find(http, other["api_key"], provider_ref="REF-1") == []
    assert [s["tracking_url"] for s in by_order] == [second["tracking_url"], first["tracking_url"]]

    params = {"merchant_ref": "ORDER-1", "limit": 1}
    page = await http.get("/v1/shipments", params=params, headers=bearer(key))
    cursor = page.json()["next_cursor"]
    rest = await _find(http, key, merchant_ref="ORDER-1", limit=1, cursor=cursor)
    assert [s["id"] for s in page.json()["data"] + rest] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "merchant_ref=",
        "provider_ref=" + "x" * 257,
        "merchant_ref=a&merchant_ref=b",
        "limit=0&merchant_ref=a",
    ],
)
async def test_bad_lookups_get_a_precise_422(
    http: httpx.AsyncClient, merchant: dict[str, Any], query: str
) -> None:
    response = await http.get(f"/v1/shipments?{query}", headers=bearer(merchant["api_key"]))
    assert response.status_code == 422
    assert response.json()["error"]["field"] in ("merchant_ref", "provider_ref", "limit")


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "%00", "a%0D%0Ab", "*", "\\x"])
async def test_odd_references_are_looked_up_as_text(
    http: httpx.AsyncClient, merchant: dict[str, Any], raw: str
) -> None:
    response = await http.get(f"/v1/shipments?merchant_ref={raw}", headers=bearer(merchant["api_key"]))
    assert response.status_code == 200 and response.json()["data"] == []


async def test_a_merchant_ref_learned_from_alopeyk_is_found_and_the_link_is_on_every_merchant_event(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    shipment_id = await post_webhook(http, redis, merchant, webhook_body())  # extra_params: SHOP-3333
    key = merchant["api_key"]
    [found] = await _find(http, key, merchant_ref="SHOP-3333")
    assert found["id"] == shipment_id
    other = await create_merchant(http, "Shop Two")
    assert await _find(http, other["api_key"], merchant_ref="SHOP-3333") == []

    # The link under the normalizer's HUB_PUBLIC_URL (the test's API server has a port of its own).
    link = f"{Settings().public_url}/track/{found['tracking_token']}"
    events = await published(redis)
    assert len(events) == 4 and {e["data"]["tracking_url"] for e in events} == {link}
    history = (await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(key))).json()["history"]
    assert {e["data"]["tracking_url"] for e in history} == {link}

    token = found["tracking_token"]
    public = await http.get(f"/v1/track/{token}")
    assert public.status_code == 200 and "tracking_url" not in public.text
    assert "merchant_ref" not in public.text and "SHOP-3333" not in public.text


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Shipments are kept 3 s after their terminal status, so a test sees them go."""
    from tests.conftest import ADMIN_TOKEN

    env = {"HUB_REDIS_URL": redis_url, "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_SHIPMENT_RETENTION_S": "3"}
    return Settings.from_env(env)


async def test_a_finished_shipment_and_its_lookups_expire_after_the_retention(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    in_flight = await post_webhook(http, redis, merchant, webhook_body(id=1001))
    ongoing = (await http.get(f"/v1/shipments/{in_flight}", headers=bearer(key))).json()
    sibling = (await register(http, key, "all24", "SIB-1", merchant_ref="SHOP-3333")).json()
    finished = await post_webhook(http, redis, merchant, webhook_body(status="finished"))
    done = (await http.get(f"/v1/shipments/{finished}", headers=bearer(key))).json()
    assert done["status"] == "delivered"
    token_key = keys.tracking_token(done["tracking_token"])
    for name in (keys.shipment(finished), keys.history(finished), keys.seen(finished), token_key):
        assert 0 < await redis.pttl(name) <= 3000, name
    assert await redis.pttl(keys.shipment(in_flight)) == -1  # in flight: kept
    own_lookup = keys.merchant_lookup(merchant["id"], "provider_ref", done["provider_ref"])
    assert 0 < await redis.pttl(own_lookup) <= 3000  # its only shipment finished: the index goes too
    assert len(await _find(http, key, merchant_ref="SHOP-3333")) == 3

    async def gone() -> bool:
        return (await http.get(f"/v1/shipments/{finished}", headers=bearer(key))).status_code == 404

    from tests.servers import eventually

    await eventually(gone, "the finished shipment to expire", timeout_s=15)
    assert (await http.get(f"/v1/track/{done['tracking_token']}")).status_code == 404
    assert await redis.exists(keys.history(finished), token_key, own_lookup) == 0
    assert [s["id"] for s in await _find(http, key, merchant_ref="SHOP-3333")] == [sibling["id"], in_flight]
    assert [s["id"] for s in await _find(http, key, provider_ref=ongoing["provider_ref"])] == [in_flight]
    lookup = keys.merchant_lookup(merchant["id"], "merchant_ref", "SHOP-3333")
    assert await redis.pttl(lookup) == -1  # shipments under it are in flight: the index stays
    stored = [json.loads(f["event"]) for _, f in await redis.xrange(keys.history(in_flight))]
    assert stored  # the one in flight kept its history
