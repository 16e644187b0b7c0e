"""Console tests: one hub (app + normalizer) and one Chromium per test module, real Redis underneath.

Each module's tests share an event loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``)
so the module-scoped browser and hub are started once. Tests create their own merchants, so they
do not see each other's data. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from redis.asyncio import Redis

from hub.api.app import create_app
from hub.settings import Settings
from tests.conftest import ADMIN_TOKEN, ROOT, admin_headers, inbox_drained, normalize
from tests.servers import LoopThread, ServerThread

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # discard port: every tile fails, fast
TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Every CSP violation a page reports, from before its first script runs.
CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.effectiveDirective));
"""
FIXTURE = ROOT / "tests" / "fixtures" / "alopeyk" / "webhook_accepted.json"


@dataclass(frozen=True)
class Hub:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def console_settings(redis_url: str) -> Settings:
    return Settings.from_env(
        {
            "HUB_REDIS_URL": redis_url,
            "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
            "HUB_LIVE_TILE_URL": UNREACHABLE_TILES,
            "HUB_CONSOLE_DEV_SIGNIN_LINKS": "1",
        }
    )


@pytest.fixture(scope="module")
def console_hub(console_settings: Settings, redis_url: str) -> Iterator[Hub]:
    """The hub's app on a loopback port with a normalizer behind it, for the whole module."""
    import redis as sync_redis

    sync_redis.Redis.from_url(redis_url).flushall()  # what the function-scoped `redis` fixture does
    settings: dict[str, Settings] = {}

    def make(url: str) -> Any:
        settings["made"] = console_settings.replace(public_url=url)
        return create_app(settings["made"])

    server = ServerThread(make)
    with server, LoopThread(lambda stop: normalize(console_settings, stop)):
        yield Hub(server.url, settings["made"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test, reporting CSP violations on every page."""
    made = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Asia/Tehran")
    await made.add_init_script(CSP_LISTENER)
    try:
        yield made
    finally:
        await made.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page whose scripts must not throw: an uncaught error fails the test at its end."""
    made = await context.new_page()
    errors: list[str] = []
    made.on("pageerror", lambda error: errors.append(str(error)))
    yield made
    assert errors == [], errors


@pytest_asyncio.fixture(loop_scope="module")
async def http(console_hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console_hub.url, timeout=15) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def store(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the hub's Redis that flushes nothing (the module's hub keeps its data)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def new_merchant(http: httpx.AsyncClient, name: str = "Shop") -> dict[str, Any]:
    response = await http.post("/v1/merchants", json={"name": name}, headers=admin_headers())
    assert response.status_code == 201, response.text
    merchant: dict[str, Any] = response.json()
    return merchant


async def sign_in(page: Page, hub: Hub, api_key: str) -> None:
    """Through the form, as a person does; ends on the fleet map."""
    await page.goto(f"{hub.url}/console/signin")
    await page.fill("#api_key", api_key)
    await page.click("form[action='/console/signin'] button[type=submit]")
    await page.wait_for_url(f"{hub.url}/console/", timeout=TIMEOUT_MS)


async def csp_violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.cspViolations")
    return found


async def screenshots(page: Page, name: str) -> None:
    """The page at phone and desktop sizes, into test-artifacts/ (full page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(viewport)
        assert await page.screenshot(path=str(ARTIFACTS / f"console-{name}-{size}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


def order(order_id: int, status: str = "accepted", **changes: Any) -> dict[str, Any]:
    """Alopeyk's webhook fixture as order ``order_id`` in ``status``."""
    import json

    body: dict[str, Any] = json.loads(FIXTURE.read_text())
    body["order"]["id"] = order_id
    body["order"]["status"] = status
    body["order"].update(changes)
    return body


def at_position(order_id: int, lat: float, lng: float, minute: int, **changes: Any) -> dict[str, Any]:
    return order(
        order_id,
        last_position_minimal={"lat": lat, "lng": lng, "updated_at": f"2017-09-12 18:{minute:02d}:00"},
        **changes,
    )


async def post_webhook(http: httpx.AsyncClient, store: Redis, merchant: dict[str, Any], body: Any) -> None:
    """Through the real receiver, inbox and normalizer; returns once the events are appended."""
    path = httpx.URL(merchant["alopeyk_webhook_url"]).path
    response = await http.post(path, json=body)
    assert response.status_code == 202, response.text
    await inbox_drained(store)


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
