"""POST /v1/webhooks/endpoints/{id}/replay: a new endpoint gets the events from before it existed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from hub import keys
from hub.settings import Settings
from hub.webhooks import endpoints, replay
from hub.webhooks.queue import Deliveries
from tests.conftest import bearer, create_merchant
from tests.webhooks.conftest import Hub, Receiver, eventually, sequences


async def _subscribe(api: httpx.AsyncClient, key: str, url: str) -> dict[str, Any]:
    response = await api.post("/v1/webhooks/endpoints", json={"url": url}, headers=bearer(key))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_new_endpoint_gets_its_merchants_earlier_events_once_in_order(
    api: httpx.AsyncClient, redis: Redis, hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    shop, other = await create_merchant(api, "Shop"), await create_merchant(api, "Other")
    since = datetime.now(UTC) - timedelta(seconds=1)
    earlier = await hub.emit("shp_1", merchant_id=shop["id"], count=3)
    earlier += await hub.emit("shp_2", merchant_id=shop["id"], count=2)
    await hub.emit("shp_9", merchant_id=other["id"], count=2)  # never this endpoint's
    receiver, url = receivers()
    endpoint = await _subscribe(api, shop["api_key"], url)
    receiver.secrets.append(endpoint["secret"])
    live = await hub.emit("shp_3", merchant_id=shop["id"], count=1)
    await eventually(lambda: len(receiver.accepted()) == 1, 20, "the live event")

    path = f"/v1/webhooks/endpoints/{endpoint['id']}/replay"
    answer = await api.post(path, json={"since": since.isoformat()}, headers=bearer(shop["api_key"]))
    assert answer.status_code == 202, answer.text
    assert answer.json() | {"oldest_kept": None} == {
        "matched": 6,  # five earlier and the live one, which it already had
        "created": 5,
        "already_had": 1,
        "next_cursor": None,
        "oldest_kept": None,
        "truncated": False,
    }
    await eventually(lambda: len(receiver.accepted()) == 6, 20, "the five earlier events")
    got = receiver.accepted_ids()
    assert sorted(got) == sorted(e["id"] for e in earlier + live) and len(set(got)) == 6
    assert sequences(receiver.accepted(), "shp_1") == [1, 2, 3]
    assert sequences(receiver.accepted(), "shp_2") == [1, 2]

    again = await api.post(path, json={"since": since.isoformat()}, headers=bearer(shop["api_key"]))
    assert (again.json()["created"], again.json()["already_had"]) == (0, 6)


async def test_the_cursor_walks_a_long_range_without_gaps_or_repeats(
    redis: Redis, hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    since_ms = int(datetime.now(UTC).timestamp() * 1000) - 1000
    emitted = await hub.emit("shp_1", count=5)
    receiver, url = receivers()
    endpoint = await hub.endpoint(receiver, url)
    deliveries = Deliveries(redis, hub.settings.webhook.retention_s)
    cursor, created, rounds = None, 0, 0
    while rounds == 0 or cursor is not None:
        until_ms = int(datetime.now(UTC).timestamp() * 1000)
        done = await replay.replay(redis, deliveries, endpoint, since_ms, until_ms, cursor, max_entries=2)
        cursor, created, rounds = done.next_cursor, created + done.created, rounds + 1
        assert rounds <= 4
    assert created == 5
    await eventually(lambda: len(receiver.accepted()) == 5, 20, "five replayed events")
    assert receiver.accepted_ids() == [e["id"] for e in emitted]


async def test_replay_refuses_what_is_not_yours_and_bad_input(
    api: httpx.AsyncClient, redis: Redis, wh_settings: Settings
) -> None:
    shop, other = await create_merchant(api, "Shop"), await create_merchant(api, "Other")
    endpoint = await _subscribe(api, shop["api_key"], "https://shop.example/h")
    path = f"/v1/webhooks/endpoints/{endpoint['id']}/replay"
    now = datetime.now(UTC).isoformat()

    foreign = await api.post(path, json={"since": now}, headers=bearer(other["api_key"]))
    assert foreign.status_code == 404
    for body, field in [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no zone
        ({"since": 17}, "since"),
        ({"since": now, "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"since": now, "cursor": "0-0; FLUSHALL"}, "cursor"),
        ({"since": now, "cursor": "9" * 40 + "-0"}, "cursor"),
        ({"since": now, "cursor": ["1-0"]}, "cursor"),
    ]:
        refused = await api.post(path, json=body, headers=bearer(shop["api_key"]))
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, body
    for raw in (b"[1]", b"{", b'{"since": "\xed\xa0\x80"}', b"[" * 10_000):
        refused = await api.post(path, content=raw, headers=bearer(shop["api_key"]))
        assert 400 <= refused.status_code < 500, raw[:20]

    ancient = await api.post(path, json={"since": "0001-01-01T00:00:00Z"}, headers=bearer(shop["api_key"]))
    assert ancient.status_code == 202 and ancient.json()["matched"] == 0

    found = await endpoints.get(redis, endpoint["id"], shop["id"])
    await endpoints.save(redis, found, state=endpoints.State.DISABLED)
    disabled = await api.post(path, json={"since": now}, headers=bearer(shop["api_key"]))
    assert disabled.status_code == 409


async def test_a_range_older_than_hub_events_keeps_says_so(
    redis: Redis, hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    since_ms = int(datetime.now(UTC).timestamp() * 1000) - 1000
    emitted = await hub.emit("shp_1", count=3)
    await redis.xtrim(keys.EVENTS, maxlen=1, approximate=False)  # as HUB_STREAM_MAXLEN would, later
    receiver, url = receivers()
    endpoint = await hub.endpoint(receiver, url)
    deliveries = Deliveries(redis, hub.settings.webhook.retention_s)
    until_ms = int(datetime.now(UTC).timestamp() * 1000)
    done = await replay.replay(redis, deliveries, endpoint, since_ms, until_ms)
    assert done.to_json(since_ms)["truncated"] is True and done.matched == 1
    await eventually(lambda: receiver.accepted_ids() == [emitted[-1]["id"]], 20, "the one event kept")
    later = await replay.replay(redis, deliveries, endpoint, until_ms + 1, until_ms + 2)
    assert later.to_json(until_ms + 1)["truncated"] is False
