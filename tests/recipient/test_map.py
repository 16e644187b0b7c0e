"""The live-tracking map in real headless Chromium (Debian's ``chromium``, driven by Playwright):
the courier and the timeline followed live, the CSP enforced, lateness marked and cleared."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from hub.settings import Settings
from hub.streams.delays import DelayChecker
from tests.live.conftest import HubProcess, at_position
from tests.recipient.browser import ARTIFACTS, TIMEOUT_MS, opened, tracked

pytestmark = pytest.mark.asyncio(loop_scope="module")
INJECT_INLINE_SCRIPT = """(() => {
  const script = document.createElement("script");
  script.textContent = "window.injected = true;";
  document.body.appendChild(script);
  return window.injected ?? null;
})()"""


async def test_the_map_follows_the_courier_and_the_timeline_and_the_csp_holds(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)
    url = f"{hub.url}/track/{shipment.token}"
    async with opened(browser, url, viewport={"width": 375, "height": 740}, check_csp=False) as page:
        await expect(page.locator("#status")).to_have_text("Courier assigned", timeout=TIMEOUT_MS)
        await expect(page.locator("#timeline li")).to_have_count(3, timeout=TIMEOUT_MS)
        assert await page.evaluate("window.hubTrack.courier().lat") == 35.7561

        await shipment.post(
            client,
            at_position(35.7600, 51.4200, 52, status="picking", picking_at="2017-09-12T18:52:00+04:30"),
        )
        await expect(page.locator("#status")).to_have_text("Courier at pickup", timeout=TIMEOUT_MS)
        await expect(page.locator("#timeline li").first).to_contain_text("Courier at pickup")
        await page.wait_for_function(
            "() => { const c = window.hubTrack.courier(); return c.lat == 35.76 && c.lng == 51.42; }",
            timeout=TIMEOUT_MS,
        )  # moved smoothly, then settled on the new position
        await expect(page.locator("#timeline time").first).to_contain_text(
            "6:52 PM"
        )  # 14:22 UTC, viewer's zone
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
        assert await page.locator(".leaflet-interactive").count() >= 2  # courier marker and trail drawn
        # Everything the page did (Leaflet, tiles, fetch, WebSocket) stayed within the CSP ...
        assert await page.evaluate("window.cspViolations") == []
        # ... and the CSP is enforced: an injected inline script does not run, and is reported.
        await page.evaluate(INJECT_INLINE_SCRIPT)
        await page.wait_for_function("() => window.cspViolations.length > 0", timeout=TIMEOUT_MS)
        assert await page.evaluate("window.cspViolations") == ["script-src-elem"]
        assert await page.evaluate("window.injected") is None
        ARTIFACTS.mkdir(exist_ok=True)
        assert await page.screenshot(path=str(ARTIFACTS / "track-map.png"), full_page=True)


async def test_the_map_marks_a_late_shipment_and_clears_the_mark_when_the_eta_moves(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)  # ETA 18:50:36 in 2017: long past
    shipment_id = await shipment.post(client, at_position(35.7561, 51.4171, 50))
    redis = Redis.from_url(hub.redis_url, decode_responses=True)
    checker = DelayChecker(redis, Settings.from_env({"HUB_REDIS_URL": hub.redis_url}))
    try:
        async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
            await expect(page.locator("#late")).to_be_hidden()
            assert (await checker.check(shipment_id, datetime.now(UTC))).result == "published"
            await expect(page.locator("#late")).to_contain_text("Running late", timeout=TIMEOUT_MS)
            await expect(page.locator("#late")).to_contain_text("6:50 PM")  # the ETA that passed
            assert await page.evaluate("window.hubTrack.courierColor()") == "#ef6c00"
            await page.reload()  # the JSON view says so too
            await expect(page.locator("#late")).to_be_visible(timeout=TIMEOUT_MS)
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)

            await shipment.post(client, at_position(35.7565, 51.4175, 53, eta_minimal=None))
            await page.wait_for_function(  # a position without an ETA changes nothing about lateness
                "() => window.hubTrack.courier().lat == 35.7565", timeout=TIMEOUT_MS
            )
            await expect(page.locator("#late")).to_be_visible()
            await expect(page.locator("#eta")).to_contain_text("6:50 PM")

            eta = {
                "duration": 600,
                "distance": 400,
                "address_id": 547412,
                "updated_at": "2017-09-12 18:55:00",
            }
            await shipment.post(client, at_position(35.7570, 51.4180, 55, eta_minimal=eta))
            await expect(page.locator("#late")).to_be_hidden(timeout=TIMEOUT_MS)  # a new ETA, not yet late
            assert await page.evaluate("window.hubTrack.courierColor()") == "#1e88e5"
    finally:
        await redis.aclose()
