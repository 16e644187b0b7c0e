"""The shipments list and detail pages in real Chromium, and what the pages refuse."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from redis.asyncio import Redis

from hub.registry import shipments
from tests.conftest import bearer
from tests.console.conftest import (
    TIMEOUT_MS,
    Hub,
    at_position,
    csp_violations,
    new_merchant,
    post_webhook,
    screenshots,
    sign_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def register(
    http: httpx.AsyncClient, merchant: dict[str, Any], provider: str, ref: str, **more: str
) -> str:
    body = {"provider": provider, "provider_ref": ref, **more}
    answer = await http.post("/v1/shipments", json=body, headers=bearer(merchant["api_key"]))
    assert answer.status_code == 201, answer.text
    shipment_id: str = answer.json()["id"]
    return shipment_id


def provider_status(event: dict[str, Any]) -> str:
    raw = event["data"]["provider_status"]
    return f"{raw['code']} {raw['text'] or ''}".strip() if raw else "\N{EN DASH}"


async def test_find_a_shipment_by_its_order_number_and_read_its_detail(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http, "Order shop")
    for minute, (lat, lng) in enumerate([(35.7561, 51.4171), (35.7570, 51.4180), (35.7580, 51.4190)]):
        body = at_position(930001, lat, lng, 50 + minute, extra_params={"order_id": "SHOP-1042"})
        await post_webhook(http, store, merchant, body)
    await register(http, merchant, "all24", "HSBY37H7", merchant_ref="SHOP-2000")
    found = await shipments.find(store, "alopeyk", "930001")
    assert found is not None

    await sign_in(page, console_hub, merchant["api_key"])
    await page.click("nav[aria-label=Console] >> text=Shipments")
    await expect(page.locator("#shipments tbody tr")).to_have_count(2)
    await screenshots(page, "shipments")
    await page.fill("#q", "SHOP-1042")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#shipments tbody tr")).to_have_count(1)
    await expect(page.locator("#shipments tbody tr")).to_contain_text("SHOP-1042")
    await page.fill("#q", "HSBY37H7")  # the provider's reference finds it too
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#shipments tbody tr")).to_contain_text("SHOP-2000")
    await page.fill("#q", "SHOP-9999")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#no-shipments")).to_contain_text("SHOP-9999")

    await page.fill("#q", "SHOP-1042")
    await page.click("form.filters button[type=submit]")
    await page.click("#shipments a")
    await page.wait_for_url(f"{console_hub.url}/console/shipments/{found.id}", timeout=TIMEOUT_MS)
    await expect(page.locator("h1")).to_contain_text("SHOP-1042")
    events = await shipments.history(store, found.id)
    await expect(page.locator("#timeline tbody tr")).to_have_count(len(events))  # every event, newest first
    shown = await page.locator("#timeline td.raw").all_inner_texts()
    assert shown == [provider_status(e) for e in reversed(events)]
    assert "accepted A courier accepted" in shown  # the provider's own code and words, as it sent them
    await expect(page.locator("#positions tbody tr")).to_have_count(3)
    assert await page.evaluate("window.hubConsoleShipment.trail()") == 3
    link = f"{console_hub.url}/track/{found.tracking_token}"
    await expect(page.locator("#tracking-url")).to_have_value(link)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_hub.url)
    await page.click("#copy-link")
    await expect(page.locator("#copied")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == link
    assert await csp_violations(page) == []
    await screenshots(page, "shipment")


async def test_filters_and_pages(console_hub: Hub, http: httpx.AsyncClient, page: Page) -> None:
    merchant = await new_merchant(http, "Many shop")
    size = console_hub.settings.console.page_size
    for index in range(size + 2):
        await register(http, merchant, "all24" if index % 2 else "alod", f"R{index:04d}")
    await sign_in(page, console_hub, merchant["api_key"])
    await page.goto(f"{console_hub.url}/console/shipments")
    await expect(page.locator("#shipments tbody tr")).to_have_count(size)
    await page.click("#next-page")
    await expect(page.locator("#shipments tbody tr")).to_have_count(2)
    await expect(page.locator("#next-page")).to_have_count(0)
    await expect(page.locator("#shipments tbody tr").last).to_contain_text("R0000")  # the oldest, last

    await page.goto(f"{console_hub.url}/console/shipments")
    await page.select_option("#provider", "all24")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#shipments tbody tr")).to_have_count((size + 2) // 2)
    await page.select_option("#status", "delivered")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#no-shipments")).to_be_visible()
    assert await csp_violations(page) == []


async def test_another_merchants_shipment_is_404_in_the_console(
    console_hub: Hub, http: httpx.AsyncClient, page: Page
) -> None:
    mine, theirs = await new_merchant(http, "Mine"), await new_merchant(http, "Theirs")
    their_shipment = await register(http, theirs, "all24", "THEIRS-1", merchant_ref="SECRET-REF")
    await sign_in(page, console_hub, mine["api_key"])
    answer = await page.goto(f"{console_hub.url}/console/shipments/{their_shipment}")
    assert answer is not None and answer.status == 404
    await expect(page.locator(".error")).to_have_text("no shipment of yours has this id")
    assert "SECRET-REF" not in await page.content()
    await screenshots(page, "not-found")
    await page.goto(f"{console_hub.url}/console/shipments?q=SECRET-REF")
    await expect(page.locator("#no-shipments")).to_be_visible()
    await page.goto(f"{console_hub.url}/console/shipments?q=THEIRS-1")
    await expect(page.locator("#no-shipments")).to_be_visible()


async def test_hostile_search_input_gets_a_4xx_page_never_a_5xx(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    [cookie] = [c for c in await context.cookies() if c["name"] == "hub_console"]
    headers = {"cookie": f"hub_console={cookie['value']}"}
    for query, status in [
        ("q=" + "x" * 300, 422),  # longer than any reference
        ("q=" + "x" * 60_000, 422),  # huge
        ("q=%ff%fe", 422),  # invalid UTF-8
        ("q=%ed%a0%80", 422),  # a lone surrogate, UTF-8 encoded
        ("q=%00abc", 422),  # a control character
        ("status=bogus", 422),
        ("provider=%ed%a0%80", 422),
        ("status=pending&status=delivered", 200),  # the first one counts, as in the API
        ("merchant_ref=a&merchant_ref=b", 422),
        ("cursor=..%2F..%2Fetc", 422),
        ("cursor=" + "f" * 5000, 422),
    ]:
        answer = await http.get(f"/console/shipments?{query}", headers=headers)
        assert answer.status_code == status, (query[:40], answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
    for path in ["/console/shipments/%ff%fe", "/console/shipments/" + "x" * 5000, "/console/shipments/%00"]:
        answer = await http.get(path, headers=headers)
        assert answer.status_code == 404, path[:40]
