"""The console's Webhooks pages in real Chromium: endpoints, the delivery log with every attempt, retry,
recover, pause/resume, a new secret, and every way a request must be refused (another merchant's ids,
CSRF, hostile form values) without a 5xx. A real delivery engine sends to a real receiver on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub.infra.redis_clients import connect
from hub.settings import Settings
from hub.webhooks.engine import DeliveryEngine
from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import (
    TIMEOUT_MS,
    UNREACHABLE_TILES,
    Hub,
    csp_violations,
    new_merchant,
    screenshots,
    sign_in,
)
from tests.servers import LoopThread, ServerThread

pytestmark = pytest.mark.asyncio(loop_scope="module")
FORM = {"content-type": "application/x-www-form-urlencoded"}
HOSTILE_ANSWER = "<script>window.pwned = true</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def console_settings(redis_url: str) -> Settings:
    """The console's hub with loopback endpoints allowed (the receiver is on 127.0.0.1) and fast retries."""
    return Settings.from_env(
        {
            "HUB_REDIS_URL": redis_url,
            "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
            "HUB_LIVE_TILE_URL": UNREACHABLE_TILES,
            "HUB_WEBHOOK_ALLOW_HTTP": "1",
            "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "HUB_WEBHOOK_RETRY_SCHEDULE_S": "0.2,0.4",
            "HUB_WEBHOOK_RETRY_JITTER": "0",
            "HUB_WEBHOOK_TOTAL_TIMEOUT_S": "2",
            "HUB_WEBHOOK_CONNECT_TIMEOUT_S": "1",
        }
    )


async def _deliver(settings: Settings, stop: asyncio.Event) -> None:
    """What ``hub worker`` does for deliveries, on a loop of its own."""
    redis = connect(settings)
    try:
        await DeliveryEngine(redis, settings).run(stop)
    finally:
        await redis.aclose()


@dataclass
class Receiver:
    """A merchant's endpoint on 127.0.0.1: answers ``status`` with a hostile body, counts requests."""

    status: int = 200
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        await request.body()
        with self.lock:
            self.requests += 1
        return PlainTextResponse(HOSTILE_ANSWER, status_code=self.status)


@pytest.fixture(scope="module")
def receiver(console_hub: Hub, console_settings: Settings) -> Iterator[tuple[Receiver, str]]:
    made = Receiver()
    app = Starlette(routes=[Route("/hook", made.handle, methods=["POST"])])
    with ServerThread(lambda url: app) as server, LoopThread(lambda stop: _deliver(console_settings, stop)):
        yield made, f"{server.url}/hook"


def jar(cookie: str) -> dict[str, str]:
    return {"cookie": f"hub_console={cookie}"}


async def session(context: BrowserContext, page: Page) -> tuple[str, str]:
    """The signed-in browser's session cookie and CSRF token, for requests sent around the forms."""
    [cookie] = [c["value"] for c in await context.cookies() if c["name"] == "hub_console"]
    return cookie, await page.locator("form.signout input[name=csrf]").input_value()


async def subscribe(page: Page, hub: Hub, url: str) -> str:
    """Through the form; returns the new endpoint's id (from the page it lands on)."""
    await page.goto(f"{hub.url}/console/webhooks")
    await page.fill("#url", url)
    await page.check("input[name='type.shipment.status_changed']")
    await page.fill("#description", "orders")
    await page.click("#create-endpoint button[type=submit]")
    await expect(page.locator("#secret")).to_be_visible(timeout=TIMEOUT_MS)
    endpoint_id = await page.locator("#log-rows").get_attribute("data-refresh-url")
    assert endpoint_id is not None
    return endpoint_id.split("/")[3]


def attempts(page: Page) -> Any:
    return page.locator("#log-rows tr.delivery").first.locator("li.attempt")


async def test_an_endpoint_its_test_delivery_retry_recover_pause_resume_and_rotate(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page,
    receiver: tuple[Receiver, str],
) -> None:  # fmt: skip
    answering, url = receiver
    answering.status = 200
    merchant = await new_merchant(http, "Hooks & Co")
    await sign_in(page, console_hub, merchant["api_key"])
    await page.goto(f"{console_hub.url}/console/webhooks")
    await expect(page.locator("#no-endpoints")).to_be_visible()

    endpoint_id = await subscribe(page, console_hub, url)
    first_secret = await page.locator("#secret").inner_text()
    assert first_secret.startswith("whsec_")
    await expect(page.locator("input[name='type.shipment.status_changed']")).to_be_checked()

    # A test event: its delivery and its attempt show in the log without a reload (refresh.js).
    await page.click("#send-test")
    await expect(page.locator("#note")).to_contain_text("Test event queued")
    await expect(page.locator("#secret")).to_have_count(0)  # the secret was shown once
    await expect(attempts(page)).to_have_count(1, timeout=TIMEOUT_MS)
    first = attempts(page).first
    await expect(first.locator(".attempt-status")).to_have_text("200")
    await expect(first.locator(".attempt-latency")).to_contain_text(" ms")
    await expect(page.locator("#log-rows")).to_have_attribute("data-refreshed", re.compile(r"^[0-9]+$"))
    await expect(first.locator(".excerpt")).to_have_text(HOSTILE_ANSWER)  # shown as text, not run
    assert await page.evaluate(
        "window.pwned === undefined && document.querySelector('.excerpt img') === null"
    )
    await screenshots(page, "webhook-endpoint")

    # The receiver fails: a retry of that delivery adds an attempt (500), then its retries run out.
    answering.status = 500
    before_failure = datetime.now(UTC) - timedelta(seconds=5)
    await page.click("#log-rows tr.delivery >> nth=0 >> button:has-text('Retry')")
    await expect(page.locator("#note")).to_contain_text("queued again")
    await expect(attempts(page).nth(1).locator(".attempt-status")).to_have_text("500", timeout=TIMEOUT_MS)
    await expect(page.locator("#log-rows tr.delivery").first).to_have_attribute(
        "data-status", "failed", timeout=TIMEOUT_MS
    )
    failed_count = await attempts(page).count()

    # Recover since a time: the failed delivery goes out again and succeeds.
    answering.status = 200
    local = before_failure.astimezone(ZoneInfo("Asia/Tehran"))  # the browser's zone (conftest)
    await page.fill("#since", local.strftime("%Y-%m-%dT%H:%M:%S"))
    await page.click("#recover button[type=submit]")
    await expect(page.locator("#note")).to_have_text("1 failed deliveries queued again.")
    await expect(attempts(page)).to_have_count(failed_count + 1, timeout=TIMEOUT_MS)
    await expect(page.locator("#log-rows tr.delivery").first).to_have_attribute(
        "data-status", "succeeded", timeout=TIMEOUT_MS
    )

    # Pause, resume, a new secret (shown once, different).
    await page.click("#pause")
    await expect(page.locator("#state")).to_have_text("paused")
    await page.click("#resume")
    await expect(page.locator("#state")).to_have_text("active")
    await page.click("#rotate")
    second_secret = await page.locator("#secret").inner_text()
    assert second_secret.startswith("whsec_") and second_secret != first_secret
    await page.reload()  # posts the rotation again: refused as a repeat, the secret not shown again
    await expect(page.locator("#note")).to_contain_text("already sent")
    await expect(page.locator("#secret")).to_have_count(0)

    # The filters can be changed; the list shows the endpoint.
    await page.uncheck("input[name='type.shipment.status_changed']")
    await page.check("input[name='provider.alopeyk']")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#note")).to_have_text("Filters saved.")
    await expect(page.locator("input[name='provider.alopeyk']")).to_be_checked()
    await page.goto(f"{console_hub.url}/console/webhooks")
    await expect(page.locator(f"tr[data-endpoint='{endpoint_id}']")).to_contain_text("every type")
    await screenshots(page, "webhooks")
    assert await csp_violations(page) == []

    # Deleting takes a tick in the box; then the endpoint is gone from the list.
    await page.click(f"tr[data-endpoint='{endpoint_id}'] a")
    await page.check("#delete input[name=confirm]")
    await page.click("#delete button[type=submit]")
    await expect(page.locator("#note")).to_contain_text("Endpoint deleted")
    await expect(page.locator(f"tr[data-endpoint='{endpoint_id}']")).to_have_count(0)
    assert await csp_violations(page) == []


async def test_another_merchants_endpoint_and_delivery_are_404(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page,
    receiver: tuple[Receiver, str],
) -> None:  # fmt: skip
    answering, url = receiver
    answering.status = 200
    owner, other = await new_merchant(http, "Owner"), await new_merchant(http, "Other")
    await sign_in(page, console_hub, owner["api_key"])
    endpoint_id = await subscribe(page, console_hub, url)
    await page.click("#send-test")
    delivery_id = await page.locator("#log-rows tr.delivery").first.get_attribute("data-delivery")

    await context.clear_cookies()
    await sign_in(page, console_hub, other["api_key"])
    cookie, csrf = await session(context, page)
    mine = await subscribe(page, console_hub, url)
    shown = await page.goto(f"{console_hub.url}/console/webhooks/{endpoint_id}")
    assert shown is not None and shown.status == 404
    for path in [
        f"/console/webhooks/{endpoint_id}/log",
        f"/console/webhooks/{endpoint_id}/pause",
        f"/console/webhooks/{endpoint_id}/rotate",
        f"/console/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry",
        f"/console/webhooks/{mine}/deliveries/{delivery_id}/retry",  # its own endpoint, another's delivery
        "/console/webhooks/ep_missing",
        "/console/webhooks/%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "/console/webhooks/%FF%FE/log",  # not UTF-8
        "/console/webhooks/" + "e" * 6000,
        f"/console/webhooks/{mine}/deliveries/%00%ED%A0%80/retry",
    ]:
        method = "POST" if path.endswith(("/pause", "/rotate", "/retry")) else "GET"
        answer = await http.request(method, path, content=f"csrf={csrf}", headers={**FORM, **jar(cookie)})
        assert answer.status_code == 404, (path, answer.status_code)
    listing = await http.get("/console/webhooks", headers=jar(cookie))
    assert endpoint_id not in listing.text and mine in listing.text


async def test_csrf_missing_or_wrong_is_403_and_changes_nothing(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page,
    receiver: tuple[Receiver, str],
) -> None:  # fmt: skip
    _, url = receiver
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    endpoint_id = await subscribe(page, console_hub, url)
    cookie, csrf = await session(context, page)
    for path in [f"/console/webhooks/{endpoint_id}/pause", "/console/webhooks"]:
        for body in [b"", b"csrf=", b"csrf=" + b"x" * len(csrf), f"url={url}".encode()]:
            answer = await http.post(path, content=body, headers={**FORM, **jar(cookie)})
            assert answer.status_code == 403, (path, body)
    shown = await http.get(f"/console/webhooks/{endpoint_id}", headers=jar(cookie))
    assert 'id="state">active<' in shown.text
    assert shown.text.count("data-endpoint") == 0  # the endpoint page, not a listing
    listing = await http.get("/console/webhooks", headers=jar(cookie))
    assert listing.text.count("data-endpoint=") == 1  # no endpoint was created without a token


async def test_hostile_form_values_get_a_4xx_or_a_form_error_never_a_5xx(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page,
    receiver: tuple[Receiver, str],
) -> None:  # fmt: skip
    _, url = receiver
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    endpoint_id = await subscribe(page, console_hub, url)
    cookie, csrf = await session(context, page)
    token = b"csrf=" + csrf.encode()
    create = "/console/webhooks"
    recover = f"/console/webhooks/{endpoint_id}/recover"
    filters = f"/console/webhooks/{endpoint_id}/filters"
    cases: list[tuple[str, bytes, int]] = [
        (create, token + b"&url=" + b"h" * 100_000, 413),  # huge
        (create, token + b"&url=%ff%fe", 400),  # invalid UTF-8
        (create, token + b"&url=%ed%a0%80", 400),  # a lone surrogate
        (create, token + b"&url=\xff", 400),  # raw bytes that are not ASCII
        (create, token + b"&url=a&url=b", 400),  # twice
        (create, token + b"&url=http://127.0.0.1/%00", 400),  # a control character
        (create, token + b"&url=", 422),  # empty
        (create, token + b"&url=https://" + b"a" * 3000 + b".example/", 422),  # too long
        (create, token + b"&url=ftp://shop.example/", 422),
        (create, token + b"&url=http://10.0.0.1/hooks", 422),  # the SSRF guard: internal address
        (create, token + b"&url=http://169.254.169.254/latest", 422),
        (create, token + b"&url=http://[::1]:1/x", 422),
        (create, token + b"&url=" + url.encode() + b"&type.nope=on", 422),  # unknown type
        (create, token + b"&url=" + url.encode() + b"&provider.%3Cb%3E=on", 422),
        (create, token + b"&url=" + url.encode() + b"&description=" + b"d" * 600, 422),
        (filters, token + b"&type.shipment.nothing=1", 422),
        (f"/console/webhooks/{endpoint_id}/delete", token + b"&confirm=no", 422),
        (recover, token + b"&since=yesterday", 422),
        (recover, token + b"&since=99999-01-01T00:00", 422),
        (recover, token + b"&since=" + b"2" * 5000, 422),
        (recover, token, 422),  # missing
        (recover, token + b"&since[]=1", 422),  # a wrong type, PHP style
        (recover, token + b"&since=2026-01-01T00:00&since_offset_min=99999", 422),
        (recover, token + b"&since=2026-01-01T00:00&since_offset_min=1e3", 422),
        (recover, token + b"&since=2026-01-01T00:00&since_offset_min=-1081", 422),
    ]
    for path, body, status in cases:
        answer = await http.post(path, content=body, headers={**FORM, **jar(cookie)})
        assert answer.status_code == status, (path, body[:80], answer.status_code, answer.text[:300])
    # An internal address is a readable error beside the field, with what was typed kept.
    refused = await http.post(
        create, content=token + b"&url=http://10.0.0.1/hooks", headers={**FORM, **jar(cookie)}
    )
    assert 'id="url-error"' in refused.text and 'value="http://10.0.0.1/hooks"' in refused.text
    # A hostile value echoed back into the form is escaped.
    echoed = await http.post(
        create, content=token + b"&url=%22%3E%3Cscript%3Ex%3C/script%3E", headers={**FORM, **jar(cookie)}
    )
    assert echoed.status_code == 422 and "<script>x</script>" not in echoed.text
    # A valid form without its one-time nonce (or a replayed one) makes nothing.
    no_nonce = await http.post(
        create, content=token + b"&url=" + url.encode(), headers={**FORM, **jar(cookie)}
    )
    assert no_nonce.status_code == 400
    # Wrong content type, and GET of a POST-only route.
    wrong = await http.post(
        create, content=b"{}", headers={"content-type": "application/json", **jar(cookie)}
    )
    assert wrong.status_code == 415
    assert (await http.get(recover, headers=jar(cookie))).status_code == 405
    await page.goto(f"{console_hub.url}/console/webhooks")
    await page.fill("#url", "http://10.1.2.3/hooks")
    await page.click("#create-endpoint button[type=submit]")
    await expect(page.locator("#url-error")).to_be_visible()
    assert await csp_violations(page) == []
