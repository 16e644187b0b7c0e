"""The Pusher emulator on a loopback port, settings pointing the hub at it, and the real `pusher` library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pusher
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.dev.emulators.pusher import PusherEmulator
from hub.receive.hld_channels.listener import Listener
from hub.registry import shipments
from hub.settings import Settings
from tests.servers import ServerThread

APP_ID, KEY, SECRET = "4242", "emu-key", "emu-secret"


@pytest.fixture
def emulator() -> Iterator[ServerThread]:
    server = ServerThread(lambda _: PusherEmulator(APP_ID, KEY, SECRET, activity_timeout_s=1).app)
    with server:
        yield server


def hub_settings(settings: Settings, emulator_url: str, **changes: Any) -> Settings:
    hld = settings.provider("hld")
    hld = replace(hld, base_url=emulator_url, credentials={"pusher_key": KEY, "pusher_cluster": "emu"})
    values: dict[str, Any] = {
        "providers": {**settings.providers, "hld": hld},
        "pusher_host": emulator_url.replace("http://", "ws://"),
        "pusher_coalesce_ms": 0,
        "pusher_pong_timeout_ms": 1000,
        "pusher_backoff_min_ms": 100,
        "pusher_backoff_max_ms": 1000,
        "pusher_lease_ttl_ms": 1500,
    }
    return settings.replace(**{**values, **changes})


@pytest.fixture
def pusher_settings(settings: Settings, emulator: ServerThread) -> Settings:
    return hub_settings(settings, emulator.url)


@pytest.fixture
def trigger_client(emulator: ServerThread) -> pusher.Pusher:
    """The real Pusher server library, pointed at the emulator."""
    return pusher.Pusher(
        app_id=APP_ID, key=KEY, secret=SECRET, host="127.0.0.1", port=emulator.port, ssl=False
    )


@pytest.fixture
async def control(emulator: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.url, timeout=10) as client:
        yield client


@pytest.fixture
async def listener(redis: Redis, pusher_settings: Settings) -> AsyncIterator[Listener]:
    running = Listener(redis, pusher_settings)
    task = asyncio.create_task(running.run())
    yield running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def subscribed(control: httpx.AsyncClient) -> list[str]:
    """Every channel subscription the emulator holds, one entry per socket that holds it."""
    state = (await control.get("/_emulator/state")).json()
    return sorted(channel for connection in state["connections"] for channel in connection["channels"])


async def register(redis: Redis, count: int, prefix: str = "tok") -> list[str]:
    tokens = [f"{prefix}{index:04d}x" for index in range(count)]
    for token in tokens:
        await shipments.register(redis, "mer_test", "hld", token)
    return tokens


async def stream_events(redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(fields["event"]) for _, fields in await redis.xrange(keys.EVENTS)]


def status_event(token: str, code: int, at: str) -> dict[str, Any]:
    data = {
        "order": {"id": f"HLD-{token}", "status": code, "status_text": f"status {code}"},
        "tracking_entry": {"status": code, "timestamp": at},
        "timestamp": at,
    }
    return {"channel": f"hld.order.{token}", "name": "hld.order.status_changed", "data": data}


def location_event(token: str, lat: float, lng: float, at: str) -> dict[str, Any]:
    data = {
        "order_id": f"HLD-{token}",
        "executive_id": "EXC-1",
        "location": {"lat": lat, "lng": lng},
        "timestamp": at,
    }
    return {"channel": f"hld.order.{token}", "name": "executive.location_updated", "data": data}


async def trigger(client: pusher.Pusher, events: list[dict[str, Any]]) -> None:
    """Through the real library's HTTP API, 10 per batch as Pusher allows."""
    for start in range(0, len(events), 10):
        batch = [dict(event) for event in events[start : start + 10]]
        await asyncio.to_thread(client.trigger_batch, batch)
