"""The recipient's tracking link reaches merchant sockets, never the public ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.live.conftest import HubProcess, new_merchant, order, post_webhook
from tests.live.test_native import recv, shipment_of, subscribe


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    while (frame := await recv(ws))["type"] != "event":
        pass
    return frame


async def test_merchant_sockets_get_the_tracking_link_and_public_ones_never_do(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub()
    merchant = await new_merchant(client, hub)
    shipment = await shipment_of(client, hub, merchant, await post_webhook(client, hub, merchant, order()))
    async with (
        await subscribe(hub, token=merchant["api_key"]) as mine,
        await subscribe(hub, tracking_token=shipment["tracking_token"]) as public,
    ):
        assert (await recv(mine))["scope"] == "merchant" and (await recv(public))["scope"] == "shipment"
        snapshot = await recv(public)
        assert snapshot["type"] == "snapshot" and "tracking_url" not in json.dumps(snapshot)
        await post_webhook(client, hub, merchant, order("picking", picking_at="2017-09-12T18:55:00+04:30"))
        merchant_frame, public_frame = await next_event(mine), await next_event(public)
    # Under the normalizer's own HUB_PUBLIC_URL (this rig starts it apart from `hub serve`).
    assert merchant_frame["event"]["data"]["tracking_url"].endswith(f"/track/{shipment['tracking_token']}")
    assert public_frame["event"]["data"]["status"] == "at_pickup"
    assert "tracking_url" not in json.dumps(public_frame) and shipment["tracking_token"] not in json.dumps(
        public_frame
    )
    tracked = await client.get(f"{hub.url}/v1/track/{shipment['tracking_token']}")
    assert tracked.status_code == 200 and "tracking_url" not in tracked.text
