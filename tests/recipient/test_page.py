"""The recipient's page as people use it: real headless Chromium (Debian's ``chromium``, Playwright)
against a real ``hub serve`` and normalizer; one browser and one hub for the whole module."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from hub.settings import Settings
from hub.streams.delays import DelayChecker
from tests.conftest import bearer
from tests.live.conftest import HubProcess, at_position
from tests.recipient.browser import ARTIFACTS, LOW_CONTRAST, TIMEOUT_MS, opened, order_time_now, tracked
from tests.recipient.images import png

pytestmark = pytest.mark.asyncio(loop_scope="module")
FAINT_TEXT = """() => {
  const p = document.createElement("p");
  p.id = "faint";
  p.textContent = "faint";
  p.style.color = "#bbbbbb";
  document.querySelector("main").append(p);
}"""
PERSIAN_DIGIT = re.compile("[\u06f0-\u06f9]")  # Persian zero to nine


async def test_in_persian_the_page_is_right_to_left_translated_in_persian_digits_and_follows_the_courier(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)
    async with opened(
        browser, f"{hub.url}/track/{shipment.token}", locale="fa-IR"
    ) as page:  # Accept-Language
        html = page.locator("html")
        await expect(html).to_have_attribute("dir", "rtl")
        await expect(html).to_have_attribute("lang", "fa")
        await expect(page.locator("#status")).to_have_text("پیک تعیین شد", timeout=TIMEOUT_MS)
        await expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "3")
        await expect(page.locator("#progress")).to_have_attribute("aria-valuetext", re.compile("۳.*۹"))
        first_time = await page.locator("#timeline time").first.text_content()
        assert (
            first_time and PERSIAN_DIGIT.search(first_time) and "۱۳۹۶" in first_time
        )  # the Persian calendar
        assert "Courier" not in (await page.locator("main").inner_text())  # every label translated
        assert await page.evaluate("document.title") == "پیگیری مرسوله"
        # Mirrored: text starts at the right edge (16 px padding), not the left.
        words = await page.locator("#eta-relative").bounding_box()
        assert words and words["x"] > 100 and abs(words["x"] + words["width"] - (390 - 16)) < 2

        await shipment.post(
            client,
            at_position(35.7600, 51.4200, 52, status="picking", picking_at="2017-09-12T18:52:00+04:30"),
        )
        await page.wait_for_function(
            "() => { const c = window.hubTrack.courier(); return c.lat == 35.76 && c.lng == 51.42; }",
            timeout=TIMEOUT_MS,
        )
        await expect(page.locator("#status")).to_have_text("پیک در مبدأ")  # said in the live region
        await expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
        await expect(page.locator("#timeline li").first).to_contain_text("پیک در مبدأ")


async def test_the_language_is_switched_on_the_page_and_remembered(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)
    async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
        await expect(page.locator("#status")).to_have_text("Courier assigned", timeout=TIMEOUT_MS)
        await expect(page.locator("html")).to_have_attribute("dir", "ltr")
        await page.locator("#language").select_option("ar")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("#status")).to_have_text("تم تعيين المندوب")
        await expect(page.locator("label[for=language]")).to_have_text("اللغة")
        await expect(page.locator(".leaflet-control-zoom-in")).to_have_attribute("aria-label", "تكبير")
        assert "lang=ar" in page.url
        await page.goto(f"{hub.url}/track/{shipment.token}")  # no ?lang=: the choice was remembered
        await expect(page.locator("html")).to_have_attribute("lang", "ar", timeout=TIMEOUT_MS)
        await expect(page.locator("#status")).to_have_text("تم تعيين المندوب", timeout=TIMEOUT_MS)
        await page.goto(f"{hub.url}/track/{shipment.token}?lang=th")  # a link's ?lang= wins
        await expect(page.locator("#status")).to_have_text("ได้ผู้จัดส่งแล้ว", timeout=TIMEOUT_MS)
        await expect(page.locator("#timeline time").first).to_contain_text("2560")  # the Buddhist era
        await page.locator("#language").select_option("hi")
        await expect(page.locator("#status")).to_have_text("कूरियर तय हो गया")
        await page.wait_for_function("() => window.hubTrack.connected()", timeout=TIMEOUT_MS)


async def test_the_eta_reads_in_minutes_and_counts_down_live(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    def eta(duration_s: int) -> dict[str, Any]:
        return {"duration": duration_s, "distance": 400, "address_id": 547412, "updated_at": order_time_now()}

    shipment = await tracked(client, hub, at_position(35.7561, 51.4171, 50, eta_minimal=eta(720)))
    async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
        relative = page.locator("#eta-relative")
        await expect(relative).to_have_text(re.compile(r"^Arrives in 1[12] minutes$"), timeout=TIMEOUT_MS)
        await page.clock.install()  # from now on the page's clock can be moved
        await page.clock.fast_forward("05:00")
        await expect(relative).to_have_text(re.compile(r"^Arrives in [67] minutes$"), timeout=TIMEOUT_MS)
        await shipment.post(client, at_position(35.7565, 51.4175, 53, eta_minimal=eta(1800)))
        await expect(relative).to_have_text(re.compile(r"^Arrives in 2[45] minutes$"), timeout=TIMEOUT_MS)
        await expect(page.locator("#eta")).to_contain_text("around")
        await page.locator("#language").select_option("fa")  # the same countdown in Persian words and digits
        await expect(relative).to_have_text(re.compile("^حدود [۲][۴۵] دقیقه بعد می‌رسد$"))


async def test_a_late_shipment_is_said_plainly_after_shipment_delayed(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)  # its ETA, 18:50:36 in 2017, passed long ago
    redis = Redis.from_url(hub.redis_url, decode_responses=True)
    checker = DelayChecker(redis, Settings.from_env({"HUB_REDIS_URL": hub.redis_url}))
    shipment_id = await shipment.post(client, at_position(35.7561, 51.4171, 50))
    try:
        async with opened(browser, f"{hub.url}/track/{shipment.token}?lang=fa") as page:
            await expect(page.locator("#late")).to_be_hidden()
            assert (await checker.check(shipment_id, datetime.now(UTC))).result == "published"
            await expect(page.locator("#late")).to_contain_text("با تأخیر", timeout=TIMEOUT_MS)
            await expect(page.locator("#late")).to_have_attribute("role", "alert")
            assert await page.evaluate("window.hubTrack.courierColor()") == "#ef6c00"
    finally:
        await redis.aclose()


async def test_the_merchants_brand_and_the_providers_real_name_are_shown(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)
    key = shipment.merchant["api_key"]
    put = await client.put(
        f"{hub.url}/v1/merchant/brand",
        json={"display_name": "Gol Flowers", "color": "#ffd700"},
        headers=bearer(key),
    )
    assert put.status_code == 200, put.text
    logo = await client.put(
        f"{hub.url}/v1/merchant/brand/logo",
        content=png(24, 12),
        headers={**bearer(key), "Content-Type": "image/png"},
    )
    assert logo.status_code == 200, logo.text
    async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
        await expect(page.locator("#brand-name")).to_have_text("Gol Flowers", timeout=TIMEOUT_MS)
        await expect(page.locator("#provider")).to_have_text("Alopeyk")
        header = page.locator("#brand")
        await expect(header).to_have_css("background-color", "rgb(255, 215, 0)")
        await expect(header).to_have_css("color", "rgb(0, 0, 0)")  # black on gold, chosen by contrast
        image = page.locator("#brand-logo")
        await expect(image).to_be_visible()
        await expect(image).to_have_attribute("alt", "Gol Flowers logo")
        await page.wait_for_function("() => document.getElementById('brand-logo').naturalWidth === 24")
        assert await page.evaluate(LOW_CONTRAST) == []  # every text readable on a light brand colour
        await page.evaluate(FAINT_TEXT)  # ... by a check that does see faint text
        assert [found.split()[0] for found in await page.evaluate(LOW_CONTRAST)] == ["P#faint."]

    hld = await client.post(
        f"{hub.url}/v1/shipments",
        json={"provider": "hld", "provider_ref": f"HLD{shipment.order_id}"},
        headers=bearer(key),
    )
    async with opened(browser, f"{hub.url}/track/{hld.json()['tracking_token']}") as page:
        await expect(page.locator("#provider")).to_have_text("AL Services HLD", timeout=TIMEOUT_MS)


async def test_without_tiles_the_pickup_the_drop_off_and_the_courier_are_still_drawn(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    body = at_position(35.7570, 51.4300, 55, status="delivering", delivering_at="2017-09-12T18:55:00+04:30")
    body["order"]["addresses"][0]["arrived_at"] = "2017-09-12T18:52:00+04:30"
    body["order"]["addresses"][0]["handled_at"] = "2017-09-12T18:53:00+04:30"
    body["order"]["addresses"][1]["arrived_at"] = "2017-09-12T18:58:00+04:30"
    shipment = await tracked(client, hub, body)
    async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
        await expect(page.locator("#map")).to_have_class(re.compile(r"\bno-tiles\b"), timeout=TIMEOUT_MS)
        await expect(page.locator("#no-tiles")).to_be_visible()
        assert await page.locator(".leaflet-tile-loaded").count() == 0
        map_box = await page.locator("#map").bounding_box()
        assert map_box
        for marker in (".marker-pickup", ".marker-dropoff", ".marker-courier"):
            await expect(page.locator(marker)).to_have_count(1)
            box = await page.locator(marker).bounding_box()
            assert box and map_box["x"] <= box["x"] <= map_box["x"] + map_box["width"], marker
            assert map_box["y"] <= box["y"] <= map_box["y"] + map_box["height"], marker
        await expect(page.locator("#stops li")).to_have_count(2)
        await expect(page.locator("#stops li").first).to_contain_text("Pickup")


async def test_screenshots_at_phone_and_desktop_sizes_in_english_and_persian_and_phone_in_the_rest(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    body = at_position(35.7570, 51.4300, 55, status="delivering", delivering_at="2017-09-12T18:55:00+04:30")
    body["order"]["addresses"][0]["arrived_at"] = "2017-09-12T18:52:00+04:30"
    shipment = await tracked(client, hub, body)
    await client.put(
        f"{hub.url}/v1/merchant/brand",
        json={"display_name": "Gol Flowers", "color": "#7b1fa2"},
        headers=bearer(shipment.merchant["api_key"]),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    phone, desktop = ("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 800})
    for lang, sizes in (
        ("en", (phone, desktop)),
        ("fa", (phone, desktop)),
        ("ar", (phone,)),
        ("th", (phone,)),
        ("hi", (phone,)),
    ):
        for name, size in sizes:
            url = f"{hub.url}/track/{shipment.token}?lang={lang}"
            async with opened(browser, url, viewport=size) as page:
                await expect(page.locator("#brand-name")).to_have_text("Gol Flowers", timeout=TIMEOUT_MS)
                assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"]
                assert await page.evaluate(LOW_CONTRAST) == []  # and on a dark one
                path = ARTIFACTS / f"recipient-{lang}-{name}.png"
                assert await page.screenshot(path=str(path), full_page=True)


async def test_keyboard_order_and_an_unknown_link_said_in_the_viewers_language(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    shipment = await tracked(client, hub)
    async with opened(browser, f"{hub.url}/track/{shipment.token}") as page:
        await page.keyboard.press("Tab")
        await expect(page.locator("#language")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.locator("#map")).to_be_focused()
        await expect(page.locator("#map")).to_have_attribute(
            "aria-label", re.compile("^Map with the courier")
        )
    async with opened(browser, f"{hub.url}/track/not-a-token", locale="ar-SA", live=False) as page:
        await expect(page.locator("#status")).to_have_text("رابط التتبّع هذا غير صالح.", timeout=TIMEOUT_MS)
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("#map")).to_be_hidden()


@pytest.mark.parametrize(("motion", "glides"), [("no-preference", True), ("reduce", False)])
async def test_the_courier_glides_between_positions_unless_motion_is_reduced(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient, motion: str, glides: bool
) -> None:
    shipment = await tracked(client, hub)  # the courier at 35.7561
    async with opened(browser, f"{hub.url}/track/{shipment.token}", reduced_motion=motion) as page:
        await page.wait_for_function("() => window.hubTrack.courier() !== null", timeout=TIMEOUT_MS)
        await shipment.post(client, at_position(35.7661, 51.4271, 51))
        # Watched on every frame: any position strictly between the two is the marker gliding.
        await page.wait_for_function(
            """() => {
              const c = window.hubTrack.courier();
              if (c.lat > 35.7561 && c.lat < 35.7661) window.glided = true;
              return c.lat == 35.7661 && c.lng == 51.4271;
            }""",
            polling="raf",
            timeout=TIMEOUT_MS,
        )
        assert await page.evaluate("() => window.glided === true") is glides


async def test_the_progress_bar_ends_at_delivered_and_says_when_a_shipment_was_cancelled(
    hub: HubProcess, browser: Browser, client: httpx.AsyncClient
) -> None:
    delivered, cancelled = await tracked(client, hub), await tracked(client, hub)
    async with opened(browser, f"{hub.url}/track/{delivered.token}") as page:
        await expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "3", timeout=TIMEOUT_MS)
        await delivered.post(
            client,
            at_position(
                35.7570, 51.4300, 59,
                status="delivered",
                picking_at="2017-09-12T18:52:00+04:30",
                delivering_at="2017-09-12T18:55:00+04:30",
                delivered_at="2017-09-12T18:59:00+04:30",
            ),
        )  # fmt: skip
        await expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "9", timeout=TIMEOUT_MS)
        await expect(page.locator("#progress-text")).to_have_text("Step 9 of 9: Delivered")
        await expect(page.locator("#eta-relative")).to_have_text("")  # no countdown once delivered
    async with opened(browser, f"{hub.url}/track/{cancelled.token}?lang=hi") as page:
        await cancelled.post(
            client,
            at_position(35.7561, 51.4171, 51, status="cancelled", stopped_at="2017-09-12T18:51:00+04:30"),
        )
        await expect(page.locator("#status")).to_have_text("रद्द हो गया", timeout=TIMEOUT_MS)
        await expect(page.locator("#progress-text")).to_have_text("समाप्त: रद्द हो गया")
        await expect(page.locator("#progress")).to_have_class(re.compile(r"\bended\b"))
