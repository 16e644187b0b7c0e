"""DELETE /v1/shipments/{id}?erase=true: personal data leaves the history and state at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.registry import erasure, shipments
from hub.settings import Settings
from hub.streams.append import Store
from tests.conftest import bearer, create_merchant
from tests.test_alopeyk_receiver import post_webhook, webhook_body
from tests.test_store import position_event

PERSONAL = ("AAAAAA", "BBBBBB", "01234567891", "35.754", "51.415")  # the fixture's courier and positions


async def _shipment(http: httpx.AsyncClient, key: str, shipment_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(key))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _stored(redis: Redis, shipment_id: str) -> str:
    history = await redis.xrange(keys.history(shipment_id))
    state = await redis.hgetall(keys.shipment(shipment_id))
    return json.dumps(history, ensure_ascii=False) + json.dumps(state, ensure_ascii=False)


async def test_erasure_scrubs_history_and_state_keeping_statuses_times_and_entry_ids(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    shipment_id = await post_webhook(http, redis, merchant, webhook_body())
    before = await _shipment(http, key, shipment_id)
    assert before["courier"] and before["location"]
    assert any(before_event["data"]["courier"] for before_event in before["history"])
    entries_before = [entry_id for entry_id, _ in await redis.xrange(keys.history(shipment_id))]
    stored = await _stored(redis, shipment_id)
    assert all(word in stored for word in PERSONAL)

    other = await create_merchant(http, "Shop Two")
    refused = await http.delete(f"/v1/shipments/{shipment_id}?erase=true", headers=bearer(other["api_key"]))
    assert refused.status_code == 404
    assert (await _shipment(http, key, shipment_id))["courier"]  # untouched

    erased = await http.delete(f"/v1/shipments/{shipment_id}?erase=true", headers=bearer(key))
    assert erased.status_code == 204
    after = await _shipment(http, key, shipment_id)
    assert (after["courier"], after["location"], after["tracking"]) == (None, None, False)
    assert after["status"] == before["status"] and after["status_time_ms"] == before["status_time_ms"]
    kept = ("id", "type", "time", "sequence", "recordedtime")
    assert [[e[k] for k in kept] for e in after["history"]] == [
        [e[k] for k in kept] for e in before["history"]
    ]
    assert [e["data"]["status"] for e in after["history"]] == [e["data"]["status"] for e in before["history"]]
    for event in after["history"]:
        assert (event["data"]["courier"], event["data"]["location"]) == (None, None)
    stored = await _stored(redis, shipment_id)
    assert not [word for word in PERSONAL if word in stored]
    assert [entry_id for entry_id, _ in await redis.xrange(keys.history(shipment_id))] == entries_before

    # The dedup index still points at the same entries: the same webhook again adds nothing.
    await post_webhook(http, redis, merchant, webhook_body())
    assert len((await _shipment(http, key, shipment_id))["history"]) == len(before["history"])


async def test_erasure_keeps_the_retention_clock_and_empty_histories_work(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    shipment_id = await post_webhook(http, redis, merchant, webhook_body())
    await redis.pexpire(keys.history(shipment_id), 600_000)
    await erasure.erase(redis, shipment_id, merchant["id"])
    assert 0 < await redis.pttl(keys.history(shipment_id)) <= 600_000

    empty = await http.post(
        "/v1/shipments", json={"provider": "all24", "provider_ref": "E-1"}, headers=bearer(key)
    )
    erased = await http.delete(f"/v1/shipments/{empty.json()['id']}?erase=true", headers=bearer(key))
    assert erased.status_code == 204 and (await _shipment(http, key, empty.json()["id"]))["history"] == []


@pytest.mark.parametrize("query", ["erase=yes", "erase=", "erase=true&erase=false", "erase=%ED%A0%80"])
async def test_a_bad_erase_flag_is_a_422_and_erases_nothing(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], query: str
) -> None:
    key = merchant["api_key"]
    shipment_id = await post_webhook(http, redis, merchant, webhook_body())
    response = await http.delete(f"/v1/shipments/{shipment_id}?{query}", headers=bearer(key))
    assert response.status_code == 422 and response.json()["error"]["field"] == "erase"
    assert (await _shipment(http, key, shipment_id))["courier"]


async def test_erasing_an_unknown_shipment_is_a_404(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    for shipment_id in ("shp_0000", "nope", "%ED%A0%80", "x" * 2000):
        response = await http.delete(
            f"/v1/shipments/{shipment_id}?erase=true", headers=bearer(merchant["api_key"])
        )
        assert response.status_code == 404


async def test_erasing_while_events_arrive_loses_none_and_keeps_dedup(
    redis: Redis, settings: Settings
) -> None:
    """The rewrite deletes and re-adds the history: an append racing it must neither vanish nor repeat."""
    registered, _ = await shipments.register(redis, "mer_1", "hld", "HLD-RACE")
    store = Store(redis, settings)
    events = [position_event(registered.ref, 19.0 + n / 1000, n) for n in range(60)]

    async def append_all() -> None:
        for event in events:
            await store.append([event])

    async def erase_repeatedly() -> None:
        for _ in range(10):
            await erasure.erase(redis, registered.id, "mer_1")

    await asyncio.gather(append_all(), erase_repeatedly())
    await erasure.erase(redis, registered.id, "mer_1")
    history = await redis.xrange(keys.history(registered.id))
    stored = [json.loads(fields["event"]) for _, fields in history]
    assert [e["id"] for e in stored] == [e["id"] for e in events]
    assert [e["sequence"] for e in stored] == list(range(1, 61))
    assert all(e["data"]["location"] is None for e in stored)
    seen = await redis.hgetall(keys.seen(registered.id))
    assert seen == {fields["id"]: entry_id for entry_id, fields in history}
    again = await Store(redis, settings).append(events[:5])  # a resend: recorded once already
    assert {a.outcome for a in again} == {"duplicate"}
