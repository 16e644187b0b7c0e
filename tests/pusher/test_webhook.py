"""POST /ingest/pusher: batches signed with the `pusher` library's signing, and the ones it must refuse."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pusher.signature import sign
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.infra import metrics
from hub.ingest import deadletter
from hub.registry import shipments
from hub.settings import Secret, Settings
from tests.pusher.conftest import location_event, status_event, stream_events
from tests.servers import ServerThread

KEY, SECRET = "relay-key", "relay-secret"


@pytest.fixture
def relay_server(settings: Settings, redis: Redis) -> Iterator[ServerThread]:
    configured = settings.replace(
        pusher_webhook_app_id="77", pusher_webhook_key=KEY, pusher_webhook_secret=Secret(SECRET)
    )
    with ServerThread(lambda url: create_app(configured.replace(public_url=url))) as server:
        yield server


@pytest.fixture
async def relay(relay_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=relay_server.url, timeout=10) as client:
        yield client


def client_event(event: dict[str, Any]) -> dict[str, Any]:
    """An HLD event as Pusher reports a client event on the operator's private channel."""
    return {
        "name": "client_event",
        "channel": f"private-{event['channel']}",
        "event": f"client-{event['name']}",
        "data": json.dumps(event["data"]),
        "socket_id": "123.456",
    }


def signed(batch: dict[str, Any], secret: str = SECRET, key: str = KEY) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(batch).encode()
    return body, {
        "X-Pusher-Key": key,
        "X-Pusher-Signature": sign(secret, body.decode()),
        "Content-Type": "application/json",
    }


async def test_a_signed_batch_is_ingested_and_channel_events_only_counted(
    relay: httpx.AsyncClient, redis: Redis
) -> None:
    await shipments.register(redis, "mer_1", "hld", "tokA")
    batch = {
        "time_ms": int(time.time() * 1000),
        "events": [
            client_event(status_event("tokA", 3, "2026-04-04T10:48:00Z")),
            client_event(location_event("tokA", 19.1, 72.9, "2026-04-04T10:49:00Z")),
            {"name": "channel_occupied", "channel": "hld.order.tokA"},
            client_event(status_event("unknown-token", 3, "2026-04-04T10:48:00Z")),
        ],
    }
    body, headers = signed(batch)
    response = await relay.post("/ingest/pusher", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"published": 2, "duplicates": 0, "dead_lettered": 1, "ignored": 1}
    appended = await stream_events(redis)
    assert [(e["type"], e["data"]["channel"]) for e in appended] == [
        ("shipment.status_changed", "pusher"),
        ("shipment.location_updated", "pusher"),
    ]
    assert len(await deadletter.recent(redis, 10)) == 1
    snapshot = await metrics.snapshot(redis)
    assert snapshot['hub_pusher_webhook_events_total{kind="channel_occupied"}'] == 1

    again = await relay.post("/ingest/pusher", content=body, headers=headers)  # Pusher retries
    assert again.json()["duplicates"] == 2
    assert await redis.xlen(keys.EVENTS) == 2


@pytest.mark.parametrize(
    ("forge", "status", "code"),
    [
        ("wrong_secret", 401, "bad_signature"),
        ("wrong_key", 401, "unknown_key"),
        ("unsigned", 401, "unsigned_webhook"),
        ("stale", 422, "stale_webhook"),
        ("not_json", 400, "invalid_json"),
        ("no_time", 400, "malformed_webhook"),
        ("events_not_list", 422, "malformed_webhook"),
    ],
)
async def test_forged_stale_and_malformed_batches_are_refused(
    relay: httpx.AsyncClient, redis: Redis, forge: str, status: int, code: str
) -> None:
    await shipments.register(redis, "mer_1", "hld", "tokA")
    batch: dict[str, Any] = {
        "time_ms": int(time.time() * 1000),
        "events": [client_event(status_event("tokA", 3, "2026-04-04T10:48:00Z"))],
    }
    body, headers = signed(batch)
    if forge == "wrong_secret":
        body, headers = signed(batch, secret="guessed")
    elif forge == "wrong_key":
        body, headers = signed(batch, key="other-app")
    elif forge == "unsigned":
        del headers["X-Pusher-Signature"]
    elif forge == "stale":
        body, headers = signed({**batch, "time_ms": batch["time_ms"] - 600_000})
    elif forge == "not_json":
        body = b"{not json"
        headers["X-Pusher-Signature"] = sign(SECRET, body.decode())
    elif forge == "no_time":
        body, headers = signed({"events": batch["events"]})
    elif forge == "events_not_list":
        body, headers = signed({**batch, "events": {"a": 1}})
    response = await relay.post("/ingest/pusher", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await redis.xlen(keys.EVENTS) == 0


def signed_bytes(body: bytes) -> dict[str, str]:
    """Headers signing raw ``body`` bytes, as Pusher's HMAC-SHA256 covers whatever was sent."""
    return {"X-Pusher-Key": KEY, "X-Pusher-Signature": hmac.new(SECRET.encode(), body, "sha256").hexdigest()}


async def test_hostile_unsigned_input_is_a_401_and_keeps_nothing(
    relay: httpx.AsyncClient, redis: Redis
) -> None:
    body, headers = signed({"time_ms": int(time.time() * 1000), "events": []})
    cases = [
        (b"\xff\xfe{not utf-8", {"X-Pusher-Key": KEY, "X-Pusher-Signature": "0" * 64}, "bad_signature"),
        (body, {**headers, "X-Pusher-Signature": "sïgnature".encode().decode("latin-1")}, "bad_signature"),
        (body, {**headers, "X-Pusher-Key": "kéy".encode().decode("latin-1")}, "unknown_key"),
    ]
    for content, sent_headers, code in cases:
        encoded = {name: value.encode("latin-1") for name, value in sent_headers.items()}
        response = await relay.post("/ingest/pusher", content=content, headers=encoded)
        assert (response.status_code, response.json()["error"]["code"]) == (401, code)
    assert await redis.xlen(keys.DEADLETTER) == 0 and await redis.xlen(keys.EVENTS) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"\xff\xfe{}", 400, "invalid_utf8"),
        (b'[{"time_ms": 1}]', 422, "wrong_type"),
        (b'{"time_ms": "soon", "events": []}', 400, "malformed_webhook"),
        (b'{"time_ms": true, "events": []}', 400, "malformed_webhook"),
        (b'{"time_ms": 1, "events": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 422, "too_deep"),
        (b'{"time_ms": ' + b"1" * 5_000 + b', "events": []}', 422, "number_too_long"),
        (b'{"time_ms": 1, "events": [], "x": "\\udfff"}', 400, "lone_surrogate"),
    ],
)
async def test_signed_batches_the_reader_refuses_get_a_4xx_and_a_dead_letter(
    relay: httpx.AsyncClient, redis: Redis, body: bytes, status: int, code: str
) -> None:
    response = await relay.post("/ingest/pusher", content=body, headers=signed_bytes(body))
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    [kept] = await deadletter.recent(redis, 10)
    assert (kept.id, kept.provider, kept.kind, kept.body) == (
        response.json()["error"]["deadletter_id"],
        "hld",
        "pusher:webhook",
        body,
    )
