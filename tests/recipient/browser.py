"""What the recipient page's browser tests share: Chromium's flags, a tracked shipment, an opened page."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, Route

from tests.conftest import bearer
from tests.live.conftest import ROOT, HubProcess, at_position, new_merchant, post_webhook

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS: Path = ROOT / "test-artifacts"
TIMEOUT_MS = 20_000  # wait_for_function takes functions: a bare expression is eval'd, which the CSP forbids
# Every CSP violation the page reports, from before its first script runs.
CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.effectiveDirective));
"""
TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"  # every tile request is aborted by the page's route
ORDER_OFFSET = timezone(timedelta(hours=4, minutes=30))  # the fixture order's times (2017)
_order_ids = itertools.count(int(datetime.now(UTC).timestamp()) % 10_000_000 * 100)


class Shipment:
    def __init__(self, hub: HubProcess, merchant: dict[str, Any], order_id: int, token: str) -> None:
        self.hub, self.merchant, self.order_id, self.token = hub, merchant, order_id, token

    async def post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> str:
        body["order"]["id"] = self.order_id
        return await post_webhook(client, self.hub, self.merchant, body)


async def tracked(client: httpx.AsyncClient, hub: HubProcess, body: dict[str, Any] | None = None) -> Shipment:
    """A new merchant's Alopeyk shipment (its own order id), courier assigned at a first position."""
    merchant = await new_merchant(client, hub)
    shipment = Shipment(hub, merchant, next(_order_ids), "")
    shipment_id = await shipment.post(client, body or at_position(35.7561, 51.4171, 50))
    found = await client.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=bearer(merchant["api_key"]))
    shipment.token = found.json()["tracking_token"]
    return shipment


@asynccontextmanager
async def opened(
    browser: Browser,
    url: str,
    *,
    locale: str = "en-US",
    viewport: dict[str, int] | None = None,
    live: bool = True,
    check_csp: bool = True,
    **options: Any,
) -> AsyncIterator[Page]:
    """A page in a fresh context (its own storage) with tiles blocked; it must report no CSP violation."""
    context = await browser.new_context(
        locale=locale,
        timezone_id="Asia/Tehran",
        viewport=viewport or {"width": 390, "height": 844},
        **options,
    )

    async def no_tiles(route: Route) -> None:
        await route.abort()

    await context.route("**/tiles/**", no_tiles)
    await context.add_init_script(CSP_LISTENER)
    page = await context.new_page()
    console_csp: list[str] = []
    page.on("console", lambda m: console_csp.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        await page.goto(url)
        if live:  # else an unknown link, which never connects
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)
        yield page
        if check_csp:  # a test that provokes a violation checks its own
            assert await page.evaluate("window.cspViolations") == [] and console_csp == []
    finally:
        await context.close()


def order_time_now() -> str:
    """Now as the order's naive times read: at the +04:30 offset its other times carry."""
    return datetime.now(ORDER_OFFSET).strftime("%Y-%m-%d %H:%M:%S")


# Every visible element with text of its own whose text/background contrast is under 4.5:1
# (WCAG AA for normal text), the background composed through translucent ancestors.
LOW_CONTRAST = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const blend = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    return layers.reverse().reduce((under, layer) => blend(layer, under), { r: 255, g: 255, b: 255, a: 1 });
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || ["OPTION", "SCRIPT"].includes(el.tagName)) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const bg = background(el);
    const fg = blend(parse(getComputedStyle(el).color), bg);
    const [light, dark] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}#${el.id}.${el.className} ${ratio.toFixed(2)}`);
  }
  return low;
}"""
