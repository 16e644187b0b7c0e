"""The real ``pusher-js`` (from npm, run by node) against the hub's Pusher protocol 7 endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from hub.settings import Settings
from hub.streams.delays import DelayChecker
from tests.live.conftest import HubProcess, new_merchant, order, post_webhook

JS = Path(__file__).parent / "js"
LINE_TIMEOUT_S = 30.0
SECRET = "pusher-test-secret"
MAX_LINES = 100


def _install_pusher_js() -> None:
    if not (JS / "node_modules" / "pusher-js").exists():
        command = ["npm", "ci"] if (JS / "package-lock.json").exists() else ["npm", "install"]
        subprocess.run([*command, "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


async def _lines_until(
    process: asyncio.subprocess.Process,
    seen: list[dict[str, Any]],
    done: Callable[[list[dict[str, Any]]], bool],
) -> None:
    assert process.stdout is not None
    while not done(seen):
        line = await asyncio.wait_for(process.stdout.readline(), LINE_TIMEOUT_S)
        assert line, f"pusher-js exited; saw {seen}"
        seen.append(json.loads(line))
        assert len(seen) < MAX_LINES, f"pusher-js said too much: {seen[-5:]}"


async def test_pusher_js_subscribes_receives_events_and_a_forged_signature_is_refused(
    start_hub: Callable[..., HubProcess], client: httpx.AsyncClient
) -> None:
    _install_pusher_js()
    hub = start_hub(HUB_LIVE_PUSHER_SECRET=SECRET)
    merchant = await new_merchant(client, hub)
    shipment_id = await post_webhook(client, hub, merchant, order())
    headers = {"Authorization": f"Bearer {merchant['api_key']}"}
    shipment = (await client.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=headers)).json()
    shipment_channel = f"shipment-{shipment['tracking_token']}"
    merchant_channel = f"private-merchant-{merchant['id']}"
    env = {
        **os.environ,
        "HUB_HOST": "127.0.0.1",
        "HUB_PORT": str(hub.port),
        "PUSHER_KEY": "hub",
        "SHIPMENT_CHANNEL": shipment_channel,
        "MERCHANT_CHANNEL": merchant_channel,
        "AUTH_ENDPOINT": f"{hub.url}/v1/live/pusher/auth",
        "AUTH_TOKEN": merchant["api_key"],
    }
    node = shutil.which("node")
    assert node, "node is required"
    process = await asyncio.create_subprocess_exec(
        node, str(JS / "client.mjs"), cwd=JS, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    seen: list[dict[str, Any]] = []
    try:
        await _lines_until(
            process,
            seen,
            lambda s: (
                {x.get("channel") for x in s if x["kind"] == "subscribed"}
                >= {shipment_channel, merchant_channel}
                and any(x.get("client") == "forger" for x in s)
            ),
        )
        forged = [x for x in seen if x.get("client") == "forger"]
        assert forged[0]["kind"] == "error"
        assert "Invalid signature" in forged[0]["error"]["data"]["message"]

        await post_webhook(client, hub, merchant, order("picking", picking_at="2017-09-12T18:55:00+04:30"))
        await _lines_until(process, seen, lambda s: len([x for x in s if x["kind"] == "event"]) >= 2)
        events = {x["channel"]: x for x in seen if x["kind"] == "event"}
        assert {e["event"] for e in events.values()} == {"shipment.status_changed"}
        assert events[merchant_channel]["data"]["data"]["merchant_id"] == merchant["id"]
        assert events[shipment_channel]["data"]["data"]["status"] == "at_pickup"
        assert "merchant_id" not in events[shipment_channel]["data"]["data"]  # the public view
        assert not any(x.get("client") == "forger" and x["kind"] == "subscribed" for x in seen)

        redis = Redis.from_url(hub.redis_url, decode_responses=True)
        try:  # the hub's own verdict travels the same way: both channels get shipment.delayed
            checker = DelayChecker(redis, Settings.from_env({"HUB_REDIS_URL": hub.redis_url}))
            assert (await checker.check(shipment_id, datetime.now(UTC))).result == "published"
        finally:
            await redis.aclose()
        await _lines_until(process, seen, lambda s: len([x for x in s if x["kind"] == "event"]) >= 4)
        late = {x["channel"]: x for x in seen if x["kind"] == "event" and x["event"] == "shipment.delayed"}
        assert set(late) == {shipment_channel, merchant_channel}
        assert late[shipment_channel]["data"]["data"]["eta"] == late[merchant_channel]["data"]["data"]["eta"]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
