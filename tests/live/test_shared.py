"""Socket limits and socket metrics hold for the whole hub, not one process."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.live.conftest import HubProcess, at_position, new_merchant, order, post_webhook
from tests.live.test_native import recv, shipment_of, subscribe
from tests.servers import eventually


async def _accepted(hub: HubProcess, tracking_token: str) -> ClientConnection | None:
    """A subscribed socket, or ``None`` when the hub refused it as one too many."""
    ws = await subscribe(hub, tracking_token=tracking_token)
    first = await recv(ws)
    if first["type"] == "subscribed":
        return ws
    assert first["code"] == "too_many_connections"
    await ws.wait_closed()
    assert ws.close_code == 4029
    return None


def _metric(text: str, series: str) -> float | None:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def test_the_per_ip_limit_holds_across_processes(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    first, second = start_hub(HUB_LIVE_MAX_PER_IP="2"), start_hub(HUB_LIVE_MAX_PER_IP="2")
    merchant = await new_merchant(client, first)
    shipment = await shipment_of(
        client, first, merchant, await post_webhook(client, first, merchant, order())
    )
    token = shipment["tracking_token"]

    on_first = await _accepted(first, token)
    on_second = await _accepted(second, token)
    assert on_first and on_second
    assert await _accepted(first, token) is None  # the place is taken on the other process
    await on_second.close()
    again = await eventually(lambda: _accepted(first, token), "a place given back on close")
    await again.close()
    await on_first.close()


async def test_a_dead_process_frees_its_places_within_a_lease(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    doomed = start_hub(HUB_LIVE_MAX_PER_IP="1", HUB_LIVE_LEASE_S="2")
    survivor = start_hub(HUB_LIVE_MAX_PER_IP="1", HUB_LIVE_LEASE_S="2")
    merchant = await new_merchant(client, survivor)
    shipment = await shipment_of(
        client, survivor, merchant, await post_webhook(client, survivor, merchant, order())
    )
    token = shipment["tracking_token"]

    held = await _accepted(doomed, token)
    assert held is not None
    assert await _accepted(survivor, token) is None
    doomed.process.send_signal(signal.SIGKILL)  # no chance to give its place back
    doomed.process.wait(timeout=15)
    taken = await eventually(lambda: _accepted(survivor, token), "the dead process's lease to expire")
    await taken.close()


async def test_metrics_count_open_sockets_of_every_process_and_messages_sent(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    first, second = start_hub(), start_hub()
    merchant = await new_merchant(client, first)
    shipment = await shipment_of(
        client, first, merchant, await post_webhook(client, first, merchant, order())
    )
    token = shipment["tracking_token"]

    async def metrics(*expected: tuple[str, float]) -> str | None:
        text = (await client.get(f"{second.url}/metrics")).text
        return text if all(_metric(text, s) == value for s, value in expected) else None

    native = [await _accepted(first, token), await _accepted(second, token)]
    async with connect(f"{first.ws_url}/app/hub?protocol=7") as pusher:
        assert json.loads(await pusher.recv())["event"] == "pusher:connection_established"
        await eventually(
            lambda: metrics(
                ('hub_live_open_sockets{protocol="native"}', 2),
                ('hub_live_open_sockets{protocol="pusher"}', 1),
            ),
            "2 native and 1 Pusher socket in /metrics",
        )
        for ws in native:
            assert ws is not None
            await recv(ws)  # the snapshot
        await post_webhook(client, first, merchant, at_position(35.75, 51.41, 55))
        for ws in native:
            assert ws is not None
            assert (await recv(ws))["type"] == "event"
        await eventually(
            lambda: metrics(('hub_live_messages_sent_total{protocol="native"}', 2)),
            "2 native messages sent in /metrics",
        )
    for ws in native:
        assert ws is not None
        await ws.close()
    await eventually(
        lambda: metrics(
            ('hub_live_open_sockets{protocol="native"}', 0), ('hub_live_open_sockets{protocol="pusher"}', 0)
        ),
        "no open socket in /metrics once all are closed",
    )
