"""`hub dev --demo`: the whole hub with emulated providers, seen as a newcomer would, across a restart."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets
from playwright.async_api import async_playwright

from hub.dev.embedded import free_port
from tests.conftest import ROOT
from tests.recipient.browser import ARGS, ARTIFACTS, CHROMIUM
from tests.servers import wait_until

PROVIDERS = {"alopeyk", "hld", "alclient", "alod", "all24"}


class Dev:
    def __init__(self, process: subprocess.Popen[str], port: int, data_dir: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def key(self) -> dict[str, str]:
        merchant = json.loads((self.data_dir / "demo-merchant.json").read_text())
        return {"Authorization": f"Bearer {merchant['api_key']}"}

    def shipments(self) -> list[dict[str, Any]]:
        listed = httpx.get(f"{self.url}/v1/shipments", params={"limit": "200"}, headers=self.key, timeout=10)
        data: list[dict[str, Any]] = listed.json()["data"]
        return data


@contextmanager
def hub_dev(data_dir: Path, port: int, redis_port: int) -> Iterator[Dev]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "hub",
        "dev",
        "--demo",
        "--port",
        str(port),
        "--redis-port",
        str(redis_port),
    ]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        dev = Dev(process, port, data_dir)
        try:
            wait_until(
                lambda: "live map:" in dev.output() or process.poll() is not None, 120, "hub dev to start"
            )
            assert process.poll() is None, dev.output()[-3000:]
            yield dev
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            code = process.wait(timeout=90)
            dev.reader.join(timeout=10)
        assert code == 0, dev.output()[-3000:]


async def follow_live(url: str, token: str) -> list[dict[str, Any]]:
    async with websockets.connect(url.replace("http", "ws") + "/v1/live") as socket:
        await socket.send(json.dumps({"type": "subscribe", "tracking_token": token}))
        return [json.loads(await asyncio.wait_for(socket.recv(), 30)) for _ in range(2)]


async def watch_map(url: str) -> None:
    """The map of a demo shipment in headless Chromium: connected, and the courier moves."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 375, "height": 740})
            await page.goto(url)
            # Functions, not expressions: an expression is eval'd in the page, which its CSP forbids.
            await page.wait_for_function("() => window.hubTrack.connected()", timeout=30_000)
            await page.wait_for_function("() => window.hubTrack.courier() !== null", timeout=60_000)
            first = await page.evaluate("JSON.stringify(window.hubTrack.courier())")
            await page.wait_for_function(
                f"() => JSON.stringify(window.hubTrack.courier()) !== {json.dumps(first)}", timeout=60_000
            )
            status = await page.locator("#status").text_content()
            assert status not in ("", "\u2013")  # the dash stands for no status
            ARTIFACTS.mkdir(exist_ok=True)
            assert await page.screenshot(path=str(ARTIFACTS / "demo-map.png"), full_page=True)
        finally:
            await browser.close()


async def watch_fleet(signin_link: str) -> None:
    """The banner's one-click link signs the demo merchant in; its fleet map shows couriers moving."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(signin_link)
            await page.wait_for_url(signin_link.partition("/console")[0] + "/console/", timeout=30_000)
            await page.wait_for_function("() => window.hubFleet.connected()", timeout=30_000)
            await page.wait_for_function(
                "() => Object.values(window.hubFleet.positions()).some((p) => p)", timeout=60_000
            )
            first = await page.evaluate("JSON.stringify(window.hubFleet.positions())")
            await page.wait_for_function(  # a courier moved (or a new one appeared) as events arrived
                f"() => JSON.stringify(window.hubFleet.positions()) !== {json.dumps(first)}", timeout=60_000
            )
            assert errors == []
            ARTIFACTS.mkdir(exist_ok=True)
            assert await page.screenshot(path=str(ARTIFACTS / "demo-console-fleet.png"))
            again = await browser.new_page()  # another browser profile
            answer = await again.goto(signin_link)  # the link works once
            assert answer is not None and answer.status == 401 and "used already" in await again.content()
        finally:
            await browser.close()


def test_hub_dev_demo_runs_everything_and_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    with hub_dev(tmp_path, port, redis_port) as dev:

        def moving() -> set[str]:
            return {s["provider"] for s in dev.shipments() if s.get("status")}

        wait_until(lambda: moving() >= PROVIDERS, 120, "demo shipments of all five providers to have events")
        hld = next(s for s in dev.shipments() if s["provider"] == "hld" and s.get("status"))
        subscribed, snapshot = asyncio.run(follow_live(dev.url, hld["tracking_token"]))
        assert subscribed["type"] == "subscribed" and snapshot["type"] == "snapshot"
        assert snapshot["history"], "the snapshot carries the shipment's events"
        asyncio.run(watch_map(f"{dev.url}/track/{hld['tracking_token']}"))
        page = httpx.get(f"{dev.url}/v1/track/{hld['tracking_token']}").json()
        assert page["brand"]["name"] == "Demo shop", "the demo merchant's recipients see its brand"
        link = re.search(r"console, signed in as the demo merchant[^:]*: (http\S+)", dev.output())
        assert link is not None, dev.output()[-3000:]
        asyncio.run(watch_fleet(link.group(1)))
        wait_until(
            lambda: "demo receiver: verified" in dev.output(), 60, "the demo receiver to verify a webhook"
        )
        before = {
            s["id"]: httpx.get(f"{dev.url}/v1/shipments/{s['id']}", headers=dev.key).json()
            for s in dev.shipments()
        }

    with hub_dev(tmp_path, port, redis_port) as dev:
        for shipment_id, earlier in before.items():
            now = httpx.get(f"{dev.url}/v1/shipments/{shipment_id}", headers=dev.key, timeout=10).json()
            ids_now = [event["id"] for event in now["history"]]
            assert ids_now[: len(earlier["history"])] == [event["id"] for event in earlier["history"]]
