"""A disabled merchant's webhook deliveries wait, and go out in order once it is enabled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.conftest import admin_headers, create_merchant
from tests.webhooks.conftest import Hub, Receiver, delivery_status, eventually

QUIET_WINDOW_S = 2.0  # several engine polls: long enough for a wrong delivery to show up


async def test_deliveries_pause_while_the_merchant_is_disabled_and_resume_in_order(
    hub: Hub, api: httpx.AsyncClient, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    shop, other = await create_merchant(api, "Shop"), await create_merchant(api, "Other")
    receiver, url = receivers()
    other_receiver, other_url = receivers()
    endpoint = await hub.endpoint(receiver, url, merchant_id=shop["id"])
    await hub.endpoint(other_receiver, other_url, merchant_id=other["id"])
    before = await hub.emit("shp_1", merchant_id=shop["id"])
    await eventually(lambda: len(receiver.accepted()) == 1, 20, "the first event")

    answer = await api.post(f"/v1/merchants/{shop['id']}/disable", headers=admin_headers())
    assert answer.status_code == 200
    during = await hub.emit("shp_1", merchant_id=shop["id"], count=3)
    others = await hub.emit("shp_2", merchant_id=other["id"], count=2)
    await eventually(lambda: len(other_receiver.accepted()) == 2, 20, "the other merchant's events")
    await eventually(
        lambda: _pending(hub, endpoint.id, 3), 20, "the disabled merchant's deliveries queued, waiting"
    )
    await asyncio.sleep(QUIET_WINDOW_S)  # not a synchronization: nothing may arrive in this window
    assert receiver.accepted_ids() == [e["id"] for e in before]
    assert await _pending(hub, endpoint.id, 3)

    assert (await api.post(f"/v1/merchants/{shop['id']}/enable", headers=admin_headers())).status_code == 200
    await eventually(lambda: len(receiver.accepted()) == 4, 20, "the waiting events after enable")
    assert receiver.accepted_ids() == [e["id"] for e in before + during]  # in order, none lost or doubled
    assert other_receiver.accepted_ids() == [e["id"] for e in others]


async def _pending(hub: Hub, endpoint_id: str, count: int) -> bool:
    return (await delivery_status(hub, endpoint_id)).count("pending") == count
