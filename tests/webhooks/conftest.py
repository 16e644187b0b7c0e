"""Webhook test rig: real receivers on 127.0.0.1 verifying with ``standardwebhooks``, a real
dispatcher and delivery engine on the test's loop, and events appended by the real store."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub.api.app import create_app
from hub.settings import Settings
from hub.streams.append import Store
from hub.webhooks import endpoints
from hub.webhooks.dispatcher import Dispatcher
from hub.webhooks.endpoints import Endpoint
from hub.webhooks.engine import DeliveryEngine
from hub.webhooks.queue import Deliveries
from hub.webhooks.signing import SecretBox
from tests.servers import ServerThread

FAST_SCHEDULE = "0.2,0.4,0.6,0.8"


@pytest.fixture
def wh_settings(settings: Settings) -> Settings:
    """Loopback allowed, a compressed retry schedule and short timeouts."""
    env = {
        "HUB_REDIS_URL": settings.redis_url or "",
        "HUB_ADMIN_TOKEN": settings.admin_token.reveal() if settings.admin_token else "",
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "HUB_WEBHOOK_RETRY_SCHEDULE_S": FAST_SCHEDULE,
        "HUB_WEBHOOK_RETRY_JITTER": "0",
        "HUB_WEBHOOK_THROTTLED_MIN_WAIT_S": "1",
        "HUB_WEBHOOK_RETRY_AFTER_MAX_S": "3",
        "HUB_WEBHOOK_TOTAL_TIMEOUT_S": "1",
        "HUB_WEBHOOK_CONNECT_TIMEOUT_S": "1",
        "HUB_WEBHOOK_LEASE_S": "3",
        "HUB_WEBHOOK_RECLAIM_IDLE_MS": "1000",
    }
    return Settings.from_env(env)


@dataclass
class Received:
    msg_id: str
    event: dict[str, Any]
    status: int
    body: bytes
    headers: dict[str, str]


Behaviour = Callable[[int, dict[str, Any]], tuple[int, dict[str, str], float]]


def healthy(count: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
    return 204, {}, 0.0


@dataclass
class Receiver:
    """A merchant's endpoint: verifies every request, then answers as ``behaviour`` says."""

    secrets: list[str] = field(default_factory=list)
    behaviour: Behaviour = healthy
    requests: list[Received] = field(default_factory=list)
    unverified: int = 0
    arrivals: dict[str, int] = field(default_factory=dict)  # webhook-id -> requests so far
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        event = None
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                event = Webhook(secret).verify(body, headers)
                break
        if event is None:
            with self.lock:
                self.unverified += 1
            return PlainTextResponse("bad signature", status_code=400)
        with self.lock:
            count = self.arrivals[headers["webhook-id"]] = self.arrivals.get(headers["webhook-id"], 0) + 1
        status, extra, delay_s = self.behaviour(count, event)
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if delay_s:
            await asyncio.sleep(delay_s)  # the receiver under test is slow on purpose
        with self.lock:
            self.in_flight -= 1
        with self.lock:
            self.requests.append(Received(headers["webhook-id"], event, status, body, headers))
        text = "" if status == 204 else "ok" if status < 300 else "no"  # a 204 has no body
        return PlainTextResponse(text, status_code=status, headers=extra)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        return [r.event["id"] for r in self.accepted()]


@pytest.fixture
def receivers() -> Iterator[Callable[..., tuple[Receiver, str]]]:
    """Start receivers on free loopback ports: ``receiver, url = make(behaviour)``."""
    started: list[ServerThread] = []

    def make(behaviour: Behaviour = healthy) -> tuple[Receiver, str]:
        receiver = Receiver(behaviour=behaviour)
        app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
        server = ServerThread(lambda url: app).__enter__()
        started.append(server)
        return receiver, f"{server.url}/hook"

    yield make
    for server in started:
        server.__exit__(None, None, None)


async def eventually(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    """Wait on the test's loop (so the dispatcher and engine keep running) until ``condition``.

    ``condition`` may return an awaitable (e.g. a Redis read)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


class Hub:
    """The webhook pipeline on the test's loop: a dispatcher, a delivery engine, and a store."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.store = Store(redis, settings)
        self.box = SecretBox(tuple(key.reveal() for key in settings.webhook.master_keys))
        self.engine = DeliveryEngine(redis, settings)
        self.stop = asyncio.Event()

        async def kick() -> None:
            self.engine.wake()

        self.dispatcher = Dispatcher(redis, settings, kick=kick)
        self.tasks: list[asyncio.Task[None]] = []
        self._clock = datetime(2026, 4, 4, 10, 0, tzinfo=UTC)

    async def start(self) -> None:
        await self.dispatcher.ensure_group()
        self.tasks = [
            asyncio.create_task(self.dispatcher.run(self.stop)),
            asyncio.create_task(self.engine.run(self.stop)),
        ]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), timeout=30)

    async def endpoint(
        self, receiver: Receiver, url: str, merchant_id: str = "mer_a", **sub: Any
    ) -> Endpoint:
        endpoint, secret = await endpoints.create(self.redis, self.box, merchant_id, url, **sub)
        receiver.secrets.append(secret)
        return endpoint

    async def emit(
        self, shipment_id: str, merchant_id: str = "mer_a", provider: str = "all24", count: int = 1
    ) -> list[dict[str, Any]]:
        """Append ``count`` status changes of one shipment through the real store."""
        events = []
        for _ in range(count):
            self._clock += timedelta(minutes=1)
            events.append(status_event(shipment_id, merchant_id, provider, self._clock))
        appended = await self.store.append(events)
        return [a.event for a in appended if a.event]


def status_event(shipment_id: str, merchant_id: str, provider: str, when: datetime) -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "specversion": "1.0",
        "id": f"evt_{shipment_id}_{int(when.timestamp())}",
        "source": f"/providers/{provider}",
        "type": "shipment.status_changed",
        "subject": f"shipments/{shipment_id}",
        "time": stamp,
        "datacontenttype": "application/json",
        "recordedtime": stamp,
        "partitionkey": shipment_id,
        "data": {
            "shipment_id": shipment_id,
            "merchant_id": merchant_id,
            "merchant_ref": None,
            "provider": provider,
            "provider_ref": f"REF-{shipment_id}",
            "status": "in_transit",
            "provider_status": None,
            "location": None,
            "courier": None,
            "eta": None,
            "stop": None,
            "channel": "poll",
        },
    }


@pytest.fixture
async def hub(redis: Redis, wh_settings: Settings) -> AsyncIterator[Hub]:
    running = Hub(redis, wh_settings)
    await running.start()
    yield running
    await running.close()


@pytest.fixture
def api_settings(wh_settings: Settings) -> Settings:
    """The settings of :func:`api_server`'s app; a module overrides it to change them."""
    return wh_settings


@pytest.fixture
def api_server(api_settings: Settings, redis: Redis) -> Iterator[ServerThread]:
    """The HTTP API on the same Redis as the hub's webhook processes."""
    with ServerThread(lambda url: create_app(api_settings.replace(public_url=url))) as server:
        yield server


@pytest.fixture
async def api(api_server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_server.url, timeout=10) as client:
        yield client


def sequences(received: list[Received], shipment_id: str) -> list[int]:
    return [r.event["sequence"] for r in received if r.event.get("partitionkey") == shipment_id]


async def delivery_status(hub: Hub, endpoint_id: str) -> list[str]:
    found, _ = await Deliveries(hub.redis, hub.settings.webhook.retention_s).page(endpoint_id, limit=200)
    return [d.status.value for d in found]
