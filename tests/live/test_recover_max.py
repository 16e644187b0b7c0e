"""``HUB_LIVE_RECOVER_MAX`` counts stream entries, however small: over real WebSockets."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.live import history
from hub.live.access import Scope
from hub.settings import Settings
from tests.live.conftest import HubProcess, at_position, new_merchant, order, post_webhook
from tests.live.test_native import recv, shipment_of, subscribe

RECOVER_MAX = 3  # far below the 500 entries read per page


async def test_a_client_more_than_recover_max_entries_behind_gets_a_snapshot_not_a_replay(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub(HUB_LIVE_RECOVER_MAX=str(RECOVER_MAX))
    merchant = await new_merchant(client, hub)
    shipment = await shipment_of(client, hub, merchant, await post_webhook(client, hub, merchant, order()))
    token = shipment["tracking_token"]
    async with await subscribe(hub, tracking_token=token) as ws:
        await recv(ws)
        offset = (await recv(ws))["offset"]

    for minute, lat in enumerate([35.7561, 35.7562, 35.7563]):  # exactly the limit missed: replayed
        await post_webhook(client, hub, merchant, at_position(lat, 51.4171, 40 + minute))
    async with await subscribe(hub, tracking_token=token, since=offset) as ws:
        assert await recv(ws) == {"type": "subscribed", "scope": "shipment", "recovered": True}
        replayed = [await recv(ws) for _ in range(RECOVER_MAX)]
        assert [frame["type"] for frame in replayed] == ["event"] * RECOVER_MAX
        offset = replayed[-1]["offset"]

    latitudes = [35.7571, 35.7572, 35.7573, 35.7574]  # one more than the limit: told so, and a snapshot
    for minute, lat in enumerate(latitudes):
        await post_webhook(client, hub, merchant, at_position(lat, 51.4171, 50 + minute))
    async with await subscribe(hub, tracking_token=token, since=offset) as ws:
        assert await recv(ws) == {"type": "subscribed", "scope": "shipment", "recovered": False}
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["shipment"]["location"]["lat"] == latitudes[-1]


@pytest.mark.parametrize(("behind", "recover_max", "replayed"), [(1001, 1000, None), (1000, 1000, 1000)])
async def test_the_limit_holds_across_pages_of_the_stream(
    redis: Redis, settings: Settings, behind: int, recover_max: int, replayed: int | None
) -> None:
    event = {"id": "evt", "type": "shipment.status_changed", "data": {"shipment_id": "s", "merchant_id": "m"}}
    pipe = redis.pipeline(transaction=False)
    for _ in range(behind + 1):
        pipe.xadd(keys.EVENTS, {"event": json.dumps(event), "shipment": "s"})
    since, *_ = await pipe.execute()
    scope = Scope(topic="merchant:m", merchant_id="m")

    found = await history.missed(redis, settings.replace(live_recover_max=recover_max), scope, since)

    assert (None if found is None else len(found[0])) == replayed
