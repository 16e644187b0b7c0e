"""One ``hub serve`` (with a normalizer) and one Chromium for each module of browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.live.conftest import HubProcess, hub_process, normalizer_process
from tests.recipient.browser import ARGS, CHROMIUM, TILES


@pytest.fixture(scope="module")
def hub(redis_url: str) -> Iterator[HubProcess]:
    with normalizer_process(redis_url), hub_process(redis_url, HUB_LIVE_TILE_URL=TILES) as process:
        yield process


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as http:
        yield http
