"""The native /v1/live protocol, over real sockets, against real ``hub serve`` processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from hub import keys
from hub.ingest.pipeline import Ingestor
from hub.live.access import TOO_SLOW
from hub.model.observation import Channel
from hub.settings import Settings
from tests.live.conftest import HubProcess, at_position, new_merchant, order, post_webhook
from tests.live.starved import StarvedClient

RECV_TIMEOUT_S = 15.0


async def recv(ws: ClientConnection) -> dict[str, Any]:
    """The next frame that is not a keep-alive ping."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
        if frame["type"] != "ping":
            return frame


async def subscribe(hub: HubProcess, **request: Any) -> ClientConnection:
    ws = await connect(f"{hub.ws_url}/v1/live", open_timeout=RECV_TIMEOUT_S)
    await ws.send(json.dumps({"type": "subscribe", **request}))
    return ws


async def shipment_of(
    http: httpx.AsyncClient, hub: HubProcess, merchant: dict[str, Any], shipment_id: str
) -> Any:
    headers = {"Authorization": f"Bearer {merchant['api_key']}"}
    return (await http.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=headers)).json()


async def test_a_recipient_gets_a_snapshot_then_every_new_event(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub()
    merchant = await new_merchant(client, hub)
    shipment = await shipment_of(client, hub, merchant, await post_webhook(client, hub, merchant, order()))

    async with await subscribe(hub, tracking_token=shipment["tracking_token"]) as ws:
        assert await recv(ws) == {"type": "subscribed", "scope": "shipment", "recovered": None}
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["shipment"]["status"] == "courier_assigned"
        assert [e["data"]["status"] for e in snapshot["history"]][:3] == [
            "pending",
            "searching_courier",
            "courier_assigned",
        ]
        assert "merchant_id" not in snapshot["history"][0]["data"]
        assert snapshot["shipment"]["courier"]["phone"] == "*********91"  # masked for the public

        await post_webhook(client, hub, merchant, order("picking", picking_at="2017-09-12T18:55:00+04:30"))
        live = await recv(ws)
        assert live["type"] == "event" and live["event"]["data"]["status"] == "at_pickup"
        assert live["event"]["data"]["previous_status"] == "courier_assigned"
        assert set(live["event"]["data"]) >= {"status", "location", "courier", "eta"}
        assert "merchant_ref" not in live["event"]["data"] and "subject" not in live["event"]


async def test_a_client_reconnecting_with_its_last_offset_gets_exactly_what_it_missed(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub()
    merchant = await new_merchant(client, hub)
    shipment = await shipment_of(client, hub, merchant, await post_webhook(client, hub, merchant, order()))
    async with await subscribe(hub, tracking_token=shipment["tracking_token"]) as ws:
        await recv(ws)
        last_offset = (await recv(ws))["offset"]
        await post_webhook(client, hub, merchant, at_position(35.7561, 51.4171, 50))
        seen = await recv(ws)
        last_offset = seen["offset"]

    for minute, lat in ((51, 35.7562), (52, 35.7563), (53, 35.7564)):  # while disconnected
        await post_webhook(client, hub, merchant, at_position(lat, 51.4172, minute))

    async with await subscribe(hub, tracking_token=shipment["tracking_token"], since=last_offset) as ws:
        assert await recv(ws) == {"type": "subscribed", "scope": "shipment", "recovered": True}
        missed = [await recv(ws) for _ in range(3)]
        assert [m["event"]["data"]["location"]["lat"] for m in missed] == [35.7562, 35.7563, 35.7564]
        await post_webhook(client, hub, merchant, at_position(35.7565, 51.4172, 54))
        live = await recv(ws)
        assert live["event"]["data"]["location"]["lat"] == 35.7565  # nothing repeated in between


async def test_a_client_whose_missed_events_were_trimmed_is_told_and_gets_a_fresh_snapshot(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient, redis: Redis
) -> None:
    hub = start_hub()
    merchant = await new_merchant(client, hub)
    shipment = await shipment_of(client, hub, merchant, await post_webhook(client, hub, merchant, order()))
    [(first_offset, _)] = await redis.xrange(keys.EVENTS, count=1)
    await post_webhook(client, hub, merchant, at_position(35.7561, 51.4171, 50))
    await redis.xtrim(keys.EVENTS, maxlen=1, approximate=False)

    async with await subscribe(hub, tracking_token=shipment["tracking_token"], since=first_offset) as ws:
        assert await recv(ws) == {"type": "subscribed", "scope": "shipment", "recovered": False}
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot" and snapshot["shipment"]["location"]["lat"] == 35.7561


async def test_two_processes_both_deliver_an_event_appended_through_a_third(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    first, second, third = start_hub(), start_hub(), start_hub()
    merchant = await new_merchant(client, third)
    shipment = await shipment_of(
        client, third, merchant, await post_webhook(client, third, merchant, order())
    )
    watchers = [
        await subscribe(first, tracking_token=shipment["tracking_token"]),
        await subscribe(second, token=merchant["api_key"]),
    ]
    try:
        for ws in watchers:
            await recv(ws)
            await recv(ws)  # subscribed, snapshot
        await post_webhook(client, third, merchant, order("picking", picking_at="2017-09-12T18:55:00+04:30"))
        received = [await recv(ws) for ws in watchers]
        assert [r["event"]["data"]["status"] for r in received] == ["at_pickup", "at_pickup"]
        assert received[1]["event"]["data"]["merchant_id"] == merchant["id"]  # the merchant's full view
        assert received[0]["offset"] == received[1]["offset"]
    finally:
        for ws in watchers:
            await ws.close()


async def test_a_slow_client_is_coalesced_then_closed_while_a_fast_one_gets_everything(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    hub = start_hub(HUB_LIVE_QUEUE_MAX="64", HUB_LIVE_SEND_BUFFER_BYTES="8192")  # loopback would buffer MBs
    merchant = await new_merchant(client, hub)
    await post_webhook(client, hub, merchant, order())  # the shipment whose courier moves
    fast = await subscribe(hub, token=merchant["api_key"])
    slow = StarvedClient("127.0.0.1", hub.port, "/v1/live")
    await slow.connect()
    await slow.send({"type": "subscribe", "token": merchant["api_key"]})
    ingestor = Ingestor(redis, settings)
    try:
        await recv(fast)
        await recv(fast)  # subscribed, snapshot
        positions = [round(35.7 + n / 100_000, 6) for n in range(POSITIONS)]  # more than socket buffers hold
        for start in range(0, len(positions), BATCH):  # at a pace a healthy client keeps up with
            batch = positions[start : start + BATCH]
            await _ingest(ingestor, merchant, [at_position(lat, 51.41, 59) for lat in batch])
            assert sorted([(await recv(fast))["event"]["data"]["location"]["lat"] for _ in batch]) == batch

        new_orders = [order(id=900_000 + n) for n in range(NEW_ORDERS)]  # their events cannot be coalesced
        for start in range(0, len(new_orders), BATCH // 2):  # ... so the slow queue overflows
            published = await _ingest(ingestor, merchant, new_orders[start : start + BATCH // 2])
            frames = [await recv(fast) for _ in range(published)]
            assert {f["event"]["data"]["merchant_id"] for f in frames} == {merchant["id"]}

        received = []  # the slow client finally reads
        for _ in range(POSITIONS + 5 * NEW_ORDERS):
            frame = await slow.next_frame()
            if frame is None:
                break
            received.append(frame)
        slow_positions = [
            f["event"]["data"]["location"]["lat"]
            for f in received
            if f["type"] == "event" and f["event"]["type"] == "shipment.location_updated"
        ]
        assert 0 < len(slow_positions) < len(positions)  # positions were coalesced while it lagged
        assert received[-1] == {"type": "error", "code": "too_slow", "message": "client too slow"}
        assert slow.close_code == TOO_SLOW == 4008
    finally:
        await ingestor.close()
        await fast.close()
        slow.close()


POSITIONS = 1000
NEW_ORDERS = 40  # about 4 events each
BATCH = 10


async def _ingest(ingestor: Ingestor, merchant: dict[str, Any], bodies: list[Any]) -> int:
    """Append as a poller or another process would; returns how many events were published."""
    published = 0
    for start in range(0, len(bodies), 100):
        results = await asyncio.gather(
            *(
                ingestor.ingest_raw(
                    "alopeyk",
                    "webhook",
                    json.dumps(b).encode(),
                    Channel.WEBHOOK,
                    merchant_id=merchant["id"],
                    register=True,
                )
                for b in bodies[start : start + 100]
            )
        )
        published += sum(len(result.published) for result in results)
    return published


async def test_refusals_are_precise(start_hub: Callable[..., HubProcess], client: httpx.AsyncClient) -> None:
    hub = start_hub(HUB_LIVE_MAX_PER_IP="3")
    merchant = await new_merchant(client, hub)
    cases = [
        ({"tracking_token": "no-such-token"}, "not_found", 4004),
        ({"token": "hk_wrong"}, "unauthorized", 4001),
        ({"token": "lt_expired-or-made-up"}, "unauthorized", 4001),
        ({"token": merchant["api_key"], "since": "yesterday"}, "bad_request", 4000),
    ]
    for request, code, close_code in cases:
        async with await subscribe(hub, **request) as ws:
            assert (await recv(ws))["code"] == code
            await ws.wait_closed()
            assert ws.close_code == close_code

    issued = await client.post(
        f"{hub.url}/v1/live/tokens", headers={"Authorization": f"Bearer {merchant['api_key']}"}
    )
    assert issued.status_code == 201 and issued.json()["expires_in_s"] == 300
    held = [await subscribe(hub, token=issued.json()["token"]) for _ in range(3)]
    try:
        for ws in held:
            assert (await recv(ws))["scope"] == "merchant"
        async with await subscribe(hub, token=merchant["api_key"]) as fourth:
            assert (await recv(fourth))["code"] == "too_many_connections"
            await fourth.wait_closed()
            assert fourth.close_code == 4029
    finally:
        for ws in held:
            await ws.close()
    refused = await client.post(f"{hub.url}/v1/live/tokens", headers={"Authorization": "Bearer hk_nope"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
