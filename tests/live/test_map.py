"""The live-tracking map in real headless Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.async_api import async_playwright, expect

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
