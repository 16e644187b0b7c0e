"""A merchant's own operations over the API: its dead letters and stream consumers' lag, never another's."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from hub import keys
from hub.ingest import deadletter
from tests.conftest import bearer, create_merchant


async def _post_bad_webhook(http: httpx.AsyncClient, merchant: dict[str, str], body: bytes) -> None:
    path = httpx.URL(merchant["alopeyk_webhook_url"]).path
    response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text


async def test_each_merchant_lists_only_its_own_dead_letters_with_their_reasons(
    http: httpx.AsyncClient,
) -> None:
    one, two = await create_merchant(http, "One"), await create_merchant(http, "Two")
    await _post_bad_webhook(http, one, b'{"order": {"id": "<b>x</b>"')  # cut short: not JSON
    await _post_bad_webhook(http, two, b'{"status": "fail", "message": "nope"}')

    mine = (await http.get("/v1/deadletters", headers=bearer(one["api_key"]))).json()["data"]
    theirs = (await http.get("/v1/deadletters", headers=bearer(two["api_key"]))).json()["data"]
    assert len(mine) == 1 and len(theirs) == 1
    assert mine[0]["id"] != theirs[0]["id"]
    assert "JSON" in mine[0]["reason"] or "json" in mine[0]["reason"]
    assert mine[0]["body_excerpt"].startswith('{"order"')
    assert "fail" in theirs[0]["body_excerpt"]


async def test_a_dead_letter_listing_is_bounded_and_survives_hostile_bodies(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    one = await create_merchant(http, "One")
    merchant_id = one["id"]
    huge = b"\xff\xfe" + b"\x00<script>" * 10_000
    await deadletter.add(
        redis, provider="alopeyk", kind="webhook", channel="webhook", reason="x\ud800", body=huge,
        merchant_id=merchant_id,
    )  # fmt: skip
    for limit in ("0", "201", "-1", "abc", "1e3", "%C2%B2", "%ED%A0%80", "9" * 5000):
        response = await http.get(f"/v1/deadletters?limit={limit}", headers=bearer(one["api_key"]))
        assert response.status_code == 422, (limit, response.text)
    [letter] = (await http.get("/v1/deadletters", headers=bearer(one["api_key"]))).json()["data"]
    assert letter["body_bytes"] == len(huge)
    assert len(letter["body_excerpt"].encode()) <= 512 * 3 + 3
    assert "\x00" not in letter["body_excerpt"]
    assert (await http.get("/v1/deadletters")).status_code == 401


async def test_stream_consumers_lag_is_the_merchants_own(http: httpx.AsyncClient, redis: Redis) -> None:
    one, two = await create_merchant(http, "One"), await create_merchant(http, "Two")
    empty = (await http.get("/v1/streams/consumers", headers=bearer(one["api_key"]))).json()
    assert empty["groups"] == [] and empty["length"] == 0
    stream = keys.merchant_events(one["id"])
    await redis.xgroup_create(stream, "shop-sync", id="0", mkstream=True)
    for n in range(3):
        await redis.xadd(stream, {"event": f"{n}"})
    await redis.xreadgroup("shop-sync", "worker-1", {stream: ">"}, count=1)
    body = (await http.get("/v1/streams/consumers", headers=bearer(one["api_key"]))).json()
    assert body["stream"] == stream and body["length"] == 3
    [group] = body["groups"]
    assert (group["name"], group["consumers"], group["pending"], group["lag"]) == ("shop-sync", 1, 1, 2)
    other = (await http.get("/v1/streams/consumers", headers=bearer(two["api_key"]))).json()
    assert other["groups"] == [] and other["stream"] == keys.merchant_events(two["id"])
