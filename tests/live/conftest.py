"""Live tests run real ``hub serve`` processes and talk to them over real WebSockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub.dev.embedded import free_port
from hub.registry import shipments
from tests.conftest import ADMIN_TOKEN, admin_headers, inbox_drained
from tests.servers import wait_until

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "alopeyk"
START_TIMEOUT_S = 30.0


class HubProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, redis_url: str) -> None:
        self.process = process
        self.port = port
        self.redis_url = redis_url
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def hub_process(redis_url: str, **env: str) -> Iterator[HubProcess]:
    port = free_port()
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_url,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    log_path = os.environ.get("HUB_TEST_SERVER_LOG")  # set it to keep the servers' logs
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=log if log else subprocess.DEVNULL,
    )
    try:
        hub = HubProcess(process, port, redis_url)
        wait_until(lambda: process.poll() is not None or _ready(hub.url), START_TIMEOUT_S, "hub serve")
        assert process.poll() is None, "hub serve exited at start"
        yield hub
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if log:
            log.close()


@contextmanager
def normalizer_process(redis_url: str) -> Iterator[None]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_REDIS_URL": redis_url}
    with subprocess.Popen([sys.executable, "-m", "hub", "normalizer"], env=environ) as process:
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture
def start_hub(redis: Redis, redis_url: str) -> Iterator[Callable[..., HubProcess]]:
    """Start ``hub serve`` processes on free ports (and one ``hub normalizer``); all stop with the test."""
    stack: list[Any] = []

    def start(**env: str) -> HubProcess:
        if not stack:
            stack.append(normalizer_process(redis_url))
            stack[-1].__enter__()
        manager = hub_process(redis_url, **env)
        stack.append(manager)
        return manager.__enter__()

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as http:
        yield http


async def new_merchant(http: httpx.AsyncClient, hub: HubProcess, name: str = "Shop") -> dict[str, Any]:
    response = await http.post(f"{hub.url}/v1/merchants", json={"name": name}, headers=admin_headers())
    assert response.status_code == 201, response.text
    merchant: dict[str, Any] = response.json()
    return merchant


def order(status: str = "accepted", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "webhook_accepted.json").read_text())
    body["order"]["status"] = status
    body["order"].update(changes)
    return body


def at_position(lat: float, lng: float, minute: int, **changes: Any) -> dict[str, Any]:
    """The order with the courier at ``lat, lng`` at 18:``minute`` (Tehran time)."""
    return order(
        last_position_minimal={"lat": lat, "lng": lng, "updated_at": f"2017-09-12 18:{minute:02d}:00"},
        **changes,
    )


async def post_webhook(http: httpx.AsyncClient, hub: HubProcess, merchant: dict[str, Any], body: Any) -> str:
    """POST an Alopeyk webhook to ``hub``, wait until it became events, and return its shipment's id."""
    path = httpx.URL(merchant["alopeyk_webhook_url"]).path
    response = await http.post(f"{hub.url}{path}", json=body)
    assert response.status_code == 202, response.text
    redis = Redis.from_url(hub.redis_url, decode_responses=True)
    try:
        await inbox_drained(redis)
        found = await shipments.find(redis, "alopeyk", str(body.get("order", body)["id"]))
    finally:
        await redis.aclose()
    assert found is not None
    return found.id


def position(shipment: shipments.Shipment, n: int) -> dict[str, Any]:
    """A courier position as the pipeline appends it: event ``n`` of ``shipment`` at latitude 35 + n/1000."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "specversion": "1.0",
        "id": f"evt_restart_{shipment.id}_{n}",
        "source": "/providers/alopeyk",
        "type": "shipment.location_updated",
        "subject": f"shipments/{shipment.id}",
        "time": stamp,
        "datacontenttype": "application/json",
        "recordedtime": stamp,
        "partitionkey": shipment.id,
        "data": {
            "shipment_id": shipment.id,
            "merchant_id": shipment.merchant_id,
            "merchant_ref": None,
            "provider": "alopeyk",
            "provider_ref": shipment.provider_ref,
            "tracking_url": None,
            "status": "in_transit",
            "provider_status": None,
            "location": {"lat": 35.0 + n / 1000, "lng": 51.4},
            "courier": None,
            "eta": None,
            "stop": None,
            "channel": "webhook",
        },
    }
