"""The operator's merchant endpoints over real HTTP and WebSockets: list, show, disable, enable."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import admin_headers, bearer, create_merchant
from tests.servers import ServerThread, eventually
from tests.test_alopeyk_receiver import post_webhook, receiver_path, webhook_body
from tests.test_api_keys import frames_until_closed

SEEN_WITHIN_S = 5.0  # each process rechecks once a second; a loaded box gets a margin


async def subscribed(server: ServerThread, **request: Any) -> ClientConnection:
    ws = await connect(server.url.replace("http://", "ws://") + "/v1/live", open_timeout=10)
    await ws.send(json.dumps({"type": "subscribe", **request}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
    return ws


async def test_the_operator_lists_pages_and_shows_merchants_without_credentials(
    http: httpx.AsyncClient,
) -> None:
    made = [await create_merchant(http, f"Shop {n}") for n in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/v1/merchants", params=params, headers=admin_headers())).json()
        assert len(page["data"]) <= 2
        seen += page["data"]
        if not (cursor := page["next_cursor"]):
            break
    assert [m["id"] for m in seen] == [m["id"] for m in made]
    shown = (await http.get(f"/v1/merchants/{made[0]['id']}", headers=admin_headers())).json()
    assert shown["name"] == "Shop 0" and shown["disabled"] is False and shown["disabled_ms"] is None
    assert shown["counts"] == {"api_keys": 1, "shipments": 0, "webhook_endpoints": 0}
    dump = json.dumps([seen, shown])
    assert '"api_key"' not in dump and "sha256" not in dump and made[0]["api_key"] not in dump
    assert made[0]["alopeyk_webhook_url"].rpartition("/")[2] not in dump


async def test_operator_routes_refuse_merchants_and_bad_input(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    mine = f"/v1/merchants/{merchant['id']}"
    for method, path in [
        ("GET", "/v1/merchants"),
        ("GET", mine),
        ("POST", mine + "/disable"),
        ("POST", mine + "/enable"),
    ]:
        refused = await http.request(method, path, headers=bearer(merchant["api_key"]))
        assert refused.status_code == 401, path  # a merchant's key is not the admin token
        assert (await http.request(method, path)).status_code == 401
    for params in (
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        {"cursor": "mer_nobody"},
        {"limit": "1e9"},
    ):
        answer = await http.get("/v1/merchants", params=params, headers=admin_headers())
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "unprocessable"), params
    for path in ("/v1/merchants/mer_nobody", "/v1/merchants/%F0%9F%98%80"):
        assert (await http.get(path, headers=admin_headers())).status_code == 404
    assert (await http.post("/v1/merchants/mer_nobody/disable", headers=admin_headers())).status_code == 404
    for body, status in [
        (b"nope", 400),
        (b"[]", 422),
        (b'{"reason": 5}', 422),
        (b'{"reason": "\\ud800"}', 400),
        (b'{"reason": "line\\nbreak"}', 422),
        (json.dumps({"reason": "r" * 501}).encode(), 422),
        (b"[" * 30_000, 422),
    ]:
        answer = await http.post(mine + "/disable", content=body, headers=admin_headers())
        assert answer.status_code == status, body[:20]
    assert (await http.get(mine, headers=admin_headers())).json()["disabled"] is False  # nothing applied


async def test_a_disabled_merchant_is_refused_everywhere_its_data_kept_and_enabling_resumes_it(
    http: httpx.AsyncClient,
    http2: httpx.AsyncClient,
    redis: Redis,
    hub_server: ServerThread,
    second_server: ServerThread,
    merchant: dict[str, Any],
) -> None:
    other = await create_merchant(http, "Other shop")
    shipment_id = await post_webhook(http, redis, merchant, webhook_body(id=7001))
    assert (await http2.post(receiver_path(merchant), json=webhook_body(id=7002))).status_code == 202  # warm
    shipment = (await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(merchant["api_key"]))).json()
    merchant_socket = await subscribed(second_server, token=merchant["api_key"])
    public_socket = await subscribed(hub_server, tracking_token=shipment["tracking_token"])
    other_socket = await subscribed(second_server, token=other["api_key"])

    disabled = await http.post(
        f"/v1/merchants/{merchant['id']}/disable", json={"reason": "unpaid invoices"}, headers=admin_headers()
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert disabled.json()["disabled_reason"] == "unpaid invoices"

    for ws in (merchant_socket, public_socket):  # both sockets close, on both instances
        frames = await frames_until_closed(ws, SEEN_WITHIN_S + 5)
        assert ws.close_code == 4003 and frames[-1]["code"] == "merchant_disabled", frames
    for client in (http, http2):
        refused = await client.get("/v1/shipments", headers=bearer(merchant["api_key"]))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "merchant_disabled"

    async def receivers_refuse() -> bool:
        answers = [await c.post(receiver_path(merchant), json=webhook_body(id=7003)) for c in (http, http2)]
        return all(a.status_code == 404 for a in answers)

    await eventually(receivers_refuse, "both instances' receivers answering 404", SEEN_WITHIN_S)
    for path in (f"/track/{shipment['tracking_token']}", f"/v1/track/{shipment['tracking_token']}"):
        assert (await http2.get(path)).status_code == 404, path  # the recipients' page, like a wrong token
    again = await connect(second_server.url.replace("http://", "ws://") + "/v1/live", open_timeout=10)
    await again.send(json.dumps({"type": "subscribe", "tracking_token": shipment["tracking_token"]}))
    assert (await frames_until_closed(again))[-1]["code"] == "merchant_disabled" and again.close_code == 4003
    await other_socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(other_socket.recv(), 10))["type"] in {
        "pong",
        "ping",
    }  # untouched
    assert (await http.get("/v1/shipments", headers=bearer(other["api_key"]))).status_code == 200
    listed = (await http.get("/v1/merchants", headers=admin_headers())).json()["data"]
    assert {m["id"]: m["disabled"] for m in listed} == {merchant["id"]: True, other["id"]: False}

    enabled = await http2.post(f"/v1/merchants/{merchant['id']}/enable", headers=admin_headers())
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    kept = await http.get(f"/v1/shipments/{shipment_id}", headers=bearer(merchant["api_key"]))
    assert kept.status_code == 200 and kept.json()["history"]  # its data was kept

    async def receivers_accept() -> bool:
        answers = [await c.post(receiver_path(merchant), json=webhook_body(id=7004)) for c in (http, http2)]
        return all(a.status_code == 202 for a in answers)

    await eventually(receivers_accept, "both receivers accepting again", SEEN_WITHIN_S)
    assert (await http2.get(f"/v1/track/{shipment['tracking_token']}")).status_code == 200
    async with await subscribed(hub_server, tracking_token=shipment["tracking_token"]):
        pass  # subscribed, with its snapshot, again
    await other_socket.close()


async def test_a_disabled_merchants_pusher_channels_close_and_are_refused(
    http: httpx.AsyncClient, hub_server: ServerThread, merchant: dict[str, Any]
) -> None:
    registered = await http.post(
        "/v1/shipments",
        json={"provider": "all24", "provider_ref": "HSBY37H7"},
        headers=bearer(merchant["api_key"]),
    )
    channel = f"shipment-{registered.json()['tracking_token']}"
    url = hub_server.url.replace("http://", "ws://") + "/app/hub?protocol=7"
    async with connect(url, open_timeout=10) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["event"] == "pusher:connection_established"
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert (
            json.loads(await asyncio.wait_for(ws.recv(), 10))["event"]
            == "pusher_internal:subscription_succeeded"
        )
        await http.post(f"/v1/merchants/{merchant['id']}/disable", headers=admin_headers())
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), SEEN_WITHIN_S + 5)
        assert ws.close_code == 4009
    async with connect(url, open_timeout=10) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refused["event"] == "pusher:error" and "disabled" in refused["data"]["message"]
