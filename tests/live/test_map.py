"""The live-tracking map in real headless Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from playwright.async_api import async_playwright, expect
from redis.asyncio import Redis

from hub.settings import Settings
from hub.streams.delays import DelayChecker
from tests.live.conftest import ROOT, HubProcess, at_position, new_merchant, post_webhook

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # discard port: every tile fails
TIMEOUT_MS = 20_000  # wait_for_function takes functions: a bare expression is eval'd, which the CSP forbids
# Every CSP violation the page reports, from before its first script runs.
CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.effectiveDirective));
"""
INJECT_INLINE_SCRIPT = """(() => {
  const script = document.createElement("script");
  script.textContent = "window.injected = true;";
  document.body.appendChild(script);
  return window.injected ?? null;
})()"""


async def test_the_map_follows_the_courier_and_the_timeline_with_tiles_unreachable(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub(HUB_LIVE_TILE_URL=UNREACHABLE_TILES)
    merchant = await new_merchant(client, hub)
    shipment_id = await post_webhook(client, hub, merchant, at_position(35.7561, 51.4171, 50))
    headers = {"Authorization": f"Bearer {merchant['api_key']}"}
    token = (await client.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=headers)).json()[
        "tracking_token"
    ]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 375, "height": 740}, timezone_id="Asia/Tehran", locale="en-US"
            )
            console_csp: list[str] = []
            page.on(
                "console",
                lambda message: (
                    console_csp.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            await page.add_init_script(CSP_LISTENER)
            loaded = await page.goto(f"{hub.url}/track/{token}")
            assert loaded is not None
            assert "frame-ancestors 'none'" in loaded.headers["content-security-policy"]
            await expect(page.locator("#status")).to_have_text("Courier assigned", timeout=TIMEOUT_MS)
            await expect(page.locator("#timeline li")).to_have_count(3, timeout=TIMEOUT_MS)
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)
            assert await page.evaluate("window.hubTrack.courier().lat") == 35.7561

            await post_webhook(
                client,
                hub,
                merchant,
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
            )  # 14:22 UTC in the viewer's zone
            assert await page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
            assert await page.locator(".leaflet-interactive").count() >= 2  # courier marker and trail drawn
            # Everything the page did (Leaflet, tiles, fetch, WebSocket) stayed within the CSP ...
            assert await page.evaluate("window.cspViolations") == [] and console_csp == []
            # ... and the CSP is enforced: an injected inline script does not run, and is reported.
            await page.evaluate(INJECT_INLINE_SCRIPT)
            await page.wait_for_function("() => window.cspViolations.length > 0", timeout=TIMEOUT_MS)
            assert await page.evaluate("window.cspViolations") == ["script-src-elem"]
            assert await page.evaluate("window.injected") is None
            ARTIFACTS.mkdir(exist_ok=True)
            assert await page.screenshot(path=str(ARTIFACTS / "track-map.png"), full_page=True)
        finally:
            await browser.close()


async def test_the_map_marks_a_late_shipment_and_clears_the_mark_when_the_eta_moves(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    hub = start_hub(HUB_LIVE_TILE_URL=UNREACHABLE_TILES)
    merchant = await new_merchant(client, hub)
    shipment_id = await post_webhook(client, hub, merchant, at_position(35.7561, 51.4171, 50))  # ETA 18:50:36
    headers = {"Authorization": f"Bearer {merchant['api_key']}"}
    token = (await client.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=headers)).json()[
        "tracking_token"
    ]
    redis = Redis.from_url(hub.redis_url, decode_responses=True)
    checker = DelayChecker(redis, Settings.from_env({"HUB_REDIS_URL": hub.redis_url}))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(timezone_id="Asia/Tehran", locale="en-US")
            await page.goto(f"{hub.url}/track/{token}")
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)
            await expect(page.locator("#late")).to_be_hidden()

            assert (await checker.check(shipment_id, datetime.now(UTC))).result == "published"
            await expect(page.locator("#late")).to_contain_text("Running late", timeout=TIMEOUT_MS)
            await expect(page.locator("#late")).to_contain_text("6:50 PM")  # the ETA that passed
            assert await page.evaluate("window.hubTrack.courierColor()") == "#ef6c00"
            await page.reload()  # the JSON view says so too
            await expect(page.locator("#late")).to_be_visible(timeout=TIMEOUT_MS)
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)

            await post_webhook(client, hub, merchant, at_position(35.7565, 51.4175, 53, eta_minimal=None))
            await page.wait_for_function(  # a position without an ETA changes nothing about lateness
                "() => window.hubTrack.courier().lat == 35.7565",
                timeout=TIMEOUT_MS,
            )
            await expect(page.locator("#late")).to_be_visible()
            await expect(page.locator("#eta")).to_contain_text("6:50 PM")

            eta = {
                "duration": 600,
                "distance": 400,
                "address_id": 547412,
                "updated_at": "2017-09-12 18:55:00",
            }
            await post_webhook(client, hub, merchant, at_position(35.7570, 51.4180, 55, eta_minimal=eta))
            await expect(page.locator("#late")).to_be_hidden(timeout=TIMEOUT_MS)  # a new ETA, not yet late
            assert await page.evaluate("window.hubTrack.courierColor()") == "#1e88e5"
        finally:
            await browser.close()
            await redis.aclose()
