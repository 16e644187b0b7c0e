"""Metrics of the whole hub, request ids, and logs that never carry a secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import Route

from hub.dev.emulators.pusher import PusherEmulator
from hub.infra import logs
from hub.receive.hld_channels.listener import Listener
from hub.settings import Settings
from tests.pusher.conftest import APP_ID, KEY, SECRET, hub_settings, register
from tests.servers import ServerThread
from tests.test_alopeyk_receiver import receiver_path, webhook_body
from tests.webhooks.conftest import Hub, Receiver, delivery_status, eventually


async def test_metrics_count_ingested_events_and_dead_letters(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), content=b"{", headers={"content-type": "application/json"})
    expected = [
        'hub_events_ingested_total{channel="webhook",outcome="new",provider="alopeyk"} 4',
        'hub_events_ingested_total{channel="webhook",outcome="duplicate",provider="alopeyk"} 4',
        'hub_deadletters_total{channel="webhook",provider="alopeyk"} 1',
        'hub_stream_length{stream="hub:events"} 4',
        "hub_inbox_accepted_total 2",  # the bad body was refused at once
        'hub_inbox_processed_total{outcome="ingested",provider="alopeyk"} 2',
        'hub_consumer_group_lag{group="normalizers",stream="hub:inbox"} 0',
    ]
    text = await eventually_in_metrics(http, *expected)  # counted in memory, written within a second
    assert [line for line in expected if line not in text] == []


async def eventually_in_metrics(http: httpx.AsyncClient, *expected: str, timeout_s: float = 10) -> str:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        text = (await http.get("/metrics")).text
        if all(line in text for line in expected) or asyncio.get_running_loop().time() > deadline:
            return text
        await asyncio.sleep(0.05)


async def test_every_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    given = await http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    made = await http.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16


def test_log_lines_are_json_and_never_carry_secrets(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "hub.access",
        logging.INFO,
        __file__,
        1,
        "POST %s with %s",
        ("/ingest/alopeyk/s3cr3t-value", "Bearer hk_abc"),
        None,
    )
    line = logs.JsonFormatter().format(record)
    assert "s3cr3t-value" not in line and "hk_abc" not in line
    assert '"message": "POST /ingest/alopeyk/*** with Bearer ***"' in line


async def test_metrics_show_pusher_connections_and_subscribed_channels_while_a_worker_runs(
    http: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    emulator = ServerThread(lambda _: PusherEmulator(APP_ID, KEY, SECRET, activity_timeout_s=1).app)
    with emulator:
        await register(redis, 3)
        listener = Listener(redis, hub_settings(settings, emulator.url))
        task = asyncio.create_task(listener.run())
        try:
            text = await eventually_in_metrics(http, "hub_pusher_subscribed_channels 3\n")
            assert "hub_pusher_subscribed_channels 3\n" in text
            assert "hub_pusher_connections 1\n" in text
            assert "hub_pusher_connects_total 1\n" in text
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    # A worker that stops takes its gauges with it.
    assert "hub_pusher_subscribed_channels" not in (await http.get("/metrics")).text


async def test_metrics_count_deliveries_by_outcome(
    http: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    loopback = settings.replace(webhook_allow_http=True, webhook_allow_networks=("127.0.0.0/8",))
    good, gone = Receiver(), Receiver(behaviour=lambda count, event: (410, {}, 0.0))
    hub = Hub(redis, loopback)
    await hub.start()
    try:
        with _serving(good) as good_url, _serving(gone) as gone_url:
            await hub.endpoint(good, good_url)
            ended = await hub.endpoint(gone, gone_url)
            await hub.emit("shp_metrics", count=2)
            # The healthy endpoint gets both events and the notice that the other was disabled.
            await eventually(
                lambda: len(good.accepted()) == 3, 20, "three deliveries to the healthy endpoint"
            )
            await eventually(
                lambda: _statuses(hub, ended.id, ["failed", "failed"]), 20, "both given up after the 410"
            )
    finally:
        await hub.close()  # the engine writes its counts before it stops
    text = (await http.get("/metrics")).text
    assert 'hub_webhook_deliveries_total{outcome="succeeded"} 3\n' in text
    assert 'hub_webhook_deliveries_total{outcome="failed"} 2\n' in text
    assert 'hub_webhook_attempts_total{outcome="succeeded"} 3\n' in text
    assert 'hub_webhook_attempts_total{outcome="failed"} 1\n' in text
    assert "hub_webhook_delivery_delay_seconds_count 3\n" in text


async def _statuses(hub: Hub, endpoint_id: str, expected: list[str]) -> bool:
    return await delivery_status(hub, endpoint_id) == expected


@contextlib.contextmanager
def _serving(receiver: Receiver) -> Iterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    with ServerThread(lambda url: app) as server:
        yield f"{server.url}/hook"
