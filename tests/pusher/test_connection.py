"""The protocol 7 client's reactions to close codes, errors and silence, against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from hub.errors import ConfigError
from hub.infra import metrics
from hub.receive.hld_channels import protocol
from hub.receive.hld_channels.connection import Connection, PusherRefused
from hub.receive.hld_channels.protocol import Frame
from hub.settings import Settings
from tests.pusher.conftest import KEY, subscribed
from tests.servers import ServerThread, eventually


@pytest.fixture
async def connection(redis: Redis, emulator: ServerThread) -> AsyncIterator[Connection]:
    received: list[Frame] = []

    async def on_event(channel: str, frame: Frame) -> None:
        received.append(frame)

    host = emulator.url.replace("http://", "ws://")
    client = Connection(
        protocol.url(host, KEY),
        redis,
        on_event=on_event,
        on_subscribed=lambda channel: None,
        pong_timeout_s=1.0,
        backoff_min_ms=100,
        backoff_max_ms=500,
    )
    await client.subscribe("hld.order.abc")
    client.start()
    await eventually(lambda: _is(client.sessions == 1), "the first session")
    yield client
    await client.close()


@pytest.mark.parametrize("code", [4200, 4100, 1011])
async def test_reconnects_and_resubscribes_after_a_retryable_close(
    connection: Connection, control: httpx.AsyncClient, code: int
) -> None:
    await eventually(lambda: _has_subscription(control), "the subscription")
    await control.post("/_emulator/drop", json={"code": code})
    await eventually(lambda: _is(connection.sessions == 2), f"a new session after close code {code}")
    await eventually(lambda: _has_subscription(control), "the channel subscribed again")


@pytest.mark.parametrize("code", [4001, 4009])
async def test_gives_up_and_reports_when_refused_for_good(
    redis: Redis, connection: Connection, control: httpx.AsyncClient, code: int
) -> None:
    await control.post("/_emulator/error", json={"code": code})
    assert connection._task is not None
    with pytest.raises(PusherRefused, match=f"code {code}"):
        await asyncio.wait_for(asyncio.shield(connection._task), 10)
    assert connection.sessions == 1
    assert (await control.get("/_emulator/state")).json()["connections"] == []
    assert (await metrics.snapshot(redis))['hub_pusher_disconnects_total{reason="give_up"}'] == 1


async def test_a_missing_pong_causes_a_reconnect(
    redis: Redis, connection: Connection, control: httpx.AsyncClient
) -> None:
    await control.post("/_emulator/pongs", json={"withhold": True})
    await eventually(lambda: _is(connection.sessions >= 2), "a reconnect after the pong did not come")
    assert (await metrics.snapshot(redis))["hub_pusher_pong_missed_total"] >= 1


async def test_event_data_is_decoded_whether_a_string_or_an_object() -> None:
    as_string = protocol.decode('{"event":"e","channel":"c","data":"{\\"a\\":1}"}')
    as_object = protocol.decode('{"event":"e","channel":"c","data":{"a":1}}')
    assert as_string.decoded_data() == as_object.decoded_data() == {"a": 1}
    assert as_string.data_bytes() == as_object.data_bytes() == b'{"a":1}'


async def _has_subscription(control: httpx.AsyncClient) -> bool:
    return await subscribed(control) == ["hld.order.abc"]


async def _is(value: bool) -> bool:
    return value


def test_pusher_settings_come_from_the_environment_with_actionable_errors() -> None:
    settings = Settings.from_env({"HUB_PUSHER_HOST": "ws://127.0.0.1:1", "HUB_PUSHER_COALESCE_MS": "0"})
    assert (settings.pusher.host, settings.pusher.coalesce_ms) == ("ws://127.0.0.1:1", 0)
    assert settings.pusher.channels_per_connection == 100
    with pytest.raises(ConfigError, match="HUB_PUSHER_LEASE_TTL_MS"):
        Settings.from_env({"HUB_PUSHER_LEASE_TTL_MS": "soon"})
