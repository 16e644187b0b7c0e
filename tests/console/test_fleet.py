"""The fleet map in real Chromium: couriers move as events go through the real pipeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Route, WebSocket, expect
from redis.asyncio import Redis

from hub import keys
from hub.registry import shipments
from hub.streams.delays import DelayChecker
from tests.console.conftest import (
    TIMEOUT_MS,
    Hub,
    at_position,
    csp_violations,
    new_merchant,
    order,
    post_webhook,
    screenshots,
    sign_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def position(page: Page, shipment_id: str) -> dict[str, float] | None:
    found: dict[str, float] | None = await page.evaluate("(id) => window.hubFleet.position(id)", shipment_id)
    return found


async def wait_position(page: Page, shipment_id: str, lat: float, lng: float) -> None:
    await page.wait_for_function(
        """([id, lat, lng]) => {
             const p = window.hubFleet.position(id);
             return p !== null && p.lat === lat && p.lng === lng;
           }""",
        arg=[shipment_id, lat, lng],
        timeout=TIMEOUT_MS,
    )


async def shipment_id(store: Redis, order_id: int) -> str:
    found = await shipments.find(store, "alopeyk", str(order_id))
    assert found is not None
    return found.id


async def test_a_courier_moves_on_the_fleet_map_and_the_map_resumes_after_a_drop(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http, "Fleet shop")
    other = await new_merchant(http, "Someone else")
    await post_webhook(http, store, merchant, at_position(910001, 35.7561, 51.4171, 50))
    moving = await shipment_id(store, 910001)
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))

    await sign_in(page, console_hub, merchant["api_key"])
    await page.wait_for_function("() => window.hubFleet.connected()", timeout=TIMEOUT_MS)
    assert await position(page, moving) == {"lat": 35.7561, "lng": 51.4171}
    await expect(page.locator(".fleet-marker")).to_have_count(1)
    await expect(page.locator("#fleet-summary")).to_have_text("1 active · 1 on the map · 0 late")
    assert merchant["api_key"] not in " ".join(sent)  # the socket was opened with a browser token

    await post_webhook(http, store, merchant, at_position(910001, 35.7600, 51.4200, 52, status="picking"))
    await wait_position(page, moving, 35.76, 51.42)
    await expect(page.locator(".fleet-marker.status-to-pickup")).to_have_count(1)

    # Another merchant's courier never shows up here.
    await post_webhook(http, store, other, at_position(910002, 35.70, 51.40, 53))
    await post_webhook(http, store, merchant, at_position(910001, 35.7610, 51.4210, 54, status="picking"))
    await wait_position(page, moving, 35.761, 51.421)
    assert await page.evaluate("window.hubFleet.count()") == 1

    # The connection drops; an event is appended while it is down; the map resumes from its offset.
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_token(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    await page.route("**/console/live-token", hold_token)
    await page.evaluate("window.hubFleet.drop()")
    await asyncio.wait_for(held.wait(), TIMEOUT_MS / 1000)  # reconnecting: its token is on hold
    assert not await page.evaluate("window.hubFleet.connected()")
    await post_webhook(http, store, merchant, at_position(910001, 35.7620, 51.4220, 55, status="delivering"))
    release.set()
    await wait_position(page, moving, 35.762, 51.422)
    assert any('"since"' in frame for frame in sent[1:])  # resumed by offset, not a fresh start
    assert await page.evaluate("window.hubFleet.reloads") == 0  # replayed, no fresh state needed

    # Dropped again, and what it missed is trimmed from the stream meanwhile: it loads a fresh state.
    held.clear()
    release.clear()
    await page.evaluate("window.hubFleet.drop()")
    await asyncio.wait_for(held.wait(), TIMEOUT_MS / 1000)
    await post_webhook(http, store, merchant, at_position(910001, 35.7630, 51.4230, 56, status="delivering"))
    await store.xtrim(keys.EVENTS, maxlen=0, approximate=False)  # emptied: nothing left to replay
    release.set()
    await wait_position(page, moving, 35.763, 51.423)
    assert await page.evaluate("window.hubFleet.reloads") == 1
    await page.unroute("**/console/live-token")
    await expect(page.locator(".fleet-marker.status-on-the-way")).to_have_count(1)
    assert await csp_violations(page) == []
    await screenshots(page, "fleet")

    finished = {"delivered_at": "2017-09-12T19:00:00+04:30", "finished_at": "2017-09-12T19:01:00+04:30"}
    await post_webhook(http, store, merchant, order(910001, "finished", **finished))  # leaves the map
    await expect(page.locator(".fleet-marker")).to_have_count(0, timeout=TIMEOUT_MS)


async def test_late_shipments_are_marked_many_are_clustered_and_a_click_opens_the_shipment(
    console_hub: Hub, http: httpx.AsyncClient, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http, "Busy shop")
    for index in range(24):  # a crowd in one street, clustered at city zoom
        body = at_position(920100 + index, 35.70 + index * 0.0002, 51.40 + index * 0.0002, 40)
        await post_webhook(http, store, merchant, body)
    await post_webhook(http, store, merchant, at_position(920001, 35.80, 51.50, 41))  # far from the crowd
    lone = await shipment_id(store, 920001)

    await sign_in(page, console_hub, merchant["api_key"])
    await page.wait_for_function("() => window.hubFleet.connected()", timeout=TIMEOUT_MS)
    assert await page.evaluate("window.hubFleet.count()") == 25
    await expect(page.locator(".marker-cluster").first).to_be_visible(timeout=TIMEOUT_MS)
    assert "late" not in await page.evaluate("(id) => window.hubFleet.markerClass(id)", lone)

    checker = DelayChecker(store, console_hub.settings)
    assert (await checker.check(lone, datetime.now(UTC))).result == "published"
    await page.wait_for_function(
        "(id) => (window.hubFleet.markerClass(id) || '').includes('late')", arg=lone, timeout=TIMEOUT_MS
    )
    await expect(page.locator(".fleet-marker.late")).to_have_count(1)
    await page.reload()  # the page's first state says so too
    await page.wait_for_function("() => window.hubFleet.connected()", timeout=TIMEOUT_MS)
    await expect(page.locator("#fleet-summary")).to_contain_text("1 late")

    await page.locator(".fleet-marker.late").click()
    await page.wait_for_url(f"{console_hub.url}/console/shipments/{lone}", timeout=TIMEOUT_MS)
    await expect(page.locator("#late")).to_be_visible()
    assert await csp_violations(page) == []


async def test_a_revoked_key_closes_the_fleet_maps_live_socket(
    console_hub: Hub, http: httpx.AsyncClient, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http)
    second = (
        await http.post(
            "/v1/keys", json={"name": "ops"}, headers={"Authorization": f"Bearer {merchant['api_key']}"}
        )
    ).json()
    closed: list[int] = []

    def watch(ws: WebSocket) -> None:
        ws.on("close", lambda _: closed.append(1))

    page.on("websocket", watch)
    await sign_in(page, console_hub, second["key"])
    await page.wait_for_function("() => window.hubFleet.connected()", timeout=TIMEOUT_MS)
    revoked = await http.delete(
        f"/v1/keys/{second['id']}", headers={"Authorization": f"Bearer {merchant['api_key']}"}
    )
    assert revoked.status_code == 204
    await expect(page.locator("#fleet-connection")).to_contain_text("ended", timeout=TIMEOUT_MS)
    assert closed
