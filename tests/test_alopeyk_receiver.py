"""The Alopeyk webhook receiver: secret in the URL, durable append to the inbox, nothing lost."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.model.event import schema
from hub.registry import shipments
from hub.settings import Settings
from tests.conftest import bearer, create_merchant, inbox_drained
from tests.servers import ServerThread

FIXTURES = Path(__file__).parent / "fixtures" / "alopeyk"


def webhook_body(**changes: Any) -> dict[str, Any]:
    body = json.loads((FIXTURES / "webhook_accepted.json").read_text())
    body["order"].update(changes)
    return body


def receiver_path(merchant: dict[str, Any]) -> str:
    return httpx.URL(merchant["alopeyk_webhook_url"]).path


async def post_webhook(http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], body: Any) -> str:
    """POST an Alopeyk webhook, wait until it became events, and return its shipment's id."""
    response = await http.post(receiver_path(merchant), json=body)
    assert response.status_code == 202, response.text
    await inbox_drained(redis)
    order = body.get("order", body)
    shipment = await shipments.find(redis, "alopeyk", str(order["id"]))
    assert shipment is not None, f"order {order['id']} was not registered"
    return shipment.id


async def dead_letters(redis: Redis) -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange(keys.DEADLETTER)]


async def published(redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(keys.EVENTS)]


async def test_a_webhook_registers_the_order_and_publishes_its_events(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    response = await http.post(receiver_path(merchant), json=webhook_body())
    assert response.status_code == 202, response.text
    assert response.json()["accepted"]  # the inbox entry: stored durably before the answer
    await inbox_drained(redis)

    events_published = await published(redis)
    assert len(events_published) == 4  # new, searching, accepted + the courier's position
    shipment_id = events_published[0]["partitionkey"]
    shipment = (await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(merchant["api_key"]))).json()
    assert (shipment["provider"], shipment["provider_ref"], shipment["status"]) == (
        "alopeyk",
        "263197",
        "courier_assigned",
    )
    assert shipment["merchant_ref"] == "SHOP-3333"
    assert [e["id"] for e in events_published] == [e["id"] for e in shipment["history"]]
    for event in events_published:
        jsonschema.validate(event, schema())
        assert event["data"]["channel"] == "webhook" and event["data"]["merchant_id"] == merchant["id"]


async def test_a_repeated_webhook_publishes_nothing_new(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), json=webhook_body())
    await inbox_drained(redis)
    assert await redis.xlen(keys.EVENTS) == 4
    picking = webhook_body(status="picking", picking_at="2017-09-12T18:55:00+04:30")
    assert (await http.post(receiver_path(merchant), json=picking)).status_code == 202
    await inbox_drained(redis)
    new = (await published(redis))[4:]
    assert [e["data"]["status"] for e in new] == ["at_pickup"]  # the position is unchanged


async def test_webhooks_of_one_order_become_events_in_the_order_they_arrived(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    launched, accepted = "2017-09-12T18:45:39+04:30", "2017-09-12T18:49:34+04:30"
    steps = [
        {"status": "new", "launched_at": None, "accepted_at": None},
        {"status": "searching", "launched_at": launched, "accepted_at": None},
        {"status": "accepted", "launched_at": launched, "accepted_at": accepted},
        {"status": "picking", "picking_at": "2017-09-12T18:55:00+04:30"},
    ]
    for step in steps:  # sent back to back: the normalizer takes them in one batch
        assert (await http.post(receiver_path(merchant), json=webhook_body(**step))).status_code == 202
    await inbox_drained(redis)
    statuses = [e["data"]["status"] for e in await published(redis) if e["type"] == "shipment.status_changed"]
    assert statuses == ["pending", "searching_courier", "courier_assigned", "at_pickup"]


async def test_a_wrong_secret_is_404_and_stores_nothing(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    response = await http.post("/ingest/alopeyk/not-the-secret", json=webhook_body())
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert await redis.xlen(keys.INBOX) == 0 and await dead_letters(redis) == []


async def test_bad_bodies_are_refused_precisely_and_kept_in_the_dead_letter_stream(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    path = receiver_path(merchant)
    # The document's own example is not JSON (unquoted order_token).
    invalid = (FIXTURES / "webhook_accepted.json").read_text().replace('"be5c4b78', "be5c4b78", 1)
    cases = [
        (invalid.encode(), 400, "invalid_json"),
        (b'{"hello": "world"}', 422, "not_normalizable"),
        (b"x" * 70_000, 413, "payload_too_large"),
    ]
    for body, status, code in cases:
        response = await http.post(path, content=body, headers={"content-type": "application/json"})
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        assert response.json()["error"]["deadletter_id"]
    kept = await dead_letters(redis)
    assert [letter["merchant_id"] for letter in kept] == [merchant["id"]] * 3
    assert "not an Alopeyk order" in kept[1]["reason"]
    assert await redis.xlen(keys.INBOX) == 0 and await redis.xlen(keys.EVENTS) == 0


async def test_an_order_that_cannot_be_normalized_later_is_kept_as_a_dead_letter(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    order = webhook_body()["order"] | {"accepted_at": "12 o'clock"}  # an order, but an unreadable time
    accepted = await http.post(receiver_path(merchant), json=order)
    assert accepted.status_code == 202
    await inbox_drained(redis)
    [kept] = await dead_letters(redis)
    assert "unreadable time" in kept["reason"] and kept["merchant_id"] == merchant["id"]
    assert json.loads(base64.b64decode(kept["body"])) == order
    assert await redis.xlen(keys.EVENTS) == 0


async def test_dead_letters_can_be_listed_and_replayed_after_a_fix(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any], redis_url: str
) -> None:
    order = webhook_body()["order"]
    order["accepted_at"] = "12 o'clock"  # unreadable: dead-lettered by the normalizer
    assert (await http.post(receiver_path(merchant), json=order)).status_code == 202
    await inbox_drained(redis)
    [(entry_id, _)] = await redis.xrange(keys.DEADLETTER)

    env = {"HUB_REDIS_URL": redis_url, "PATH": ""}
    listing = subprocess.run(
        [sys.executable, "-m", "hub", "deadletter", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert entry_id in listing.stdout and "unreadable time" in listing.stdout

    # An operator fixes the stored body (as a code fix would make it readable) and replays it.
    fields = (await redis.xrange(keys.DEADLETTER, entry_id, entry_id))[0][1]
    fixed = json.loads(base64.b64decode(fields["body"])) | {"accepted_at": "2017-09-12T18:49:34+04:30"}
    await redis.xadd(
        keys.DEADLETTER, {**fields, "body": base64.b64encode(json.dumps(fixed).encode()).decode()}
    )
    fixed_id = (await redis.xrevrange(keys.DEADLETTER, count=1))[0][0]
    replay = subprocess.run(
        [sys.executable, "-m", "hub", "deadletter", "replay", fixed_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    assert "4 published" in replay.stdout
    still_bad = subprocess.run(
        [sys.executable, "-m", "hub", "deadletter", "replay", entry_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert still_bad.returncode == 1 and "unreadable time" in still_bad.stderr
    assert await redis.xlen(keys.DEADLETTER) == 2  # a failed replay adds no new dead letter


async def test_inline_receiving_appends_the_events_before_it_answers(
    settings: Settings, redis: Redis
) -> None:
    inline = settings.replace(receive_inline=True)
    with ServerThread(lambda url: create_app(inline.replace(public_url=url))) as server:  # no normalizer
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            merchant = await create_merchant(http, "Inline shop")
            response = await http.post(receiver_path(merchant), json=webhook_body())
            assert response.status_code == 200, response.text
            assert (response.json()["published"], response.json()["duplicates"]) == (4, 0)
            assert len(await published(redis)) == 4 and await redis.xlen(keys.INBOX) == 0

            unreadable = webhook_body()["order"] | {"id": 1, "accepted_at": "12 o'clock"}
            refused = await http.post(receiver_path(merchant), json=unreadable)
            assert (refused.status_code, refused.json()["error"]["code"]) == (422, "not_normalizable")
            assert refused.json()["error"]["deadletter_id"]
