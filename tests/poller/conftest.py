"""Poller fixtures: the five emulators on 127.0.0.1, settings pointing at them, real RQ processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.clients import http_client
from hub.dev.emulators import serve
from hub.settings import PROVIDERS, Settings
from tests.servers import ServerThread
from workers.poll import Poller

ROOT = Path(__file__).resolve().parents[2]
STEP_S = 1.0  # emulated shipments move one status per second (all24 times have whole seconds)

CREDENTIALS = {
    "HUB_ALOPEYK_TOKEN": "jwt-test",
    "HUB_ALCLIENT_MOBILE": "9800000000",
    "HUB_ALCLIENT_PASSWORD": "secret-password",
    "HUB_ALOD_AUTHKEY": "alod-key",
    "HUB_ALOD_USER_ID": "61559a7e1d3f24416428a6c1",
    "HUB_ALL24_API_KEY": "all24-key",
}


class Emulators:
    def __init__(self, servers: dict[str, ServerThread]) -> None:
        self.servers = servers

    def url(self, provider: str) -> str:
        return self.servers[provider].url

    def emulator(self, provider: str) -> Any:
        return self.servers[provider].server.config.app.state.emulator

    def faults(self, provider: str, **knobs: Any) -> None:
        response = httpx.post(f"{self.url(provider)}/_emulator/faults", json=knobs, timeout=5)
        assert response.status_code == 200, response.text

    def requests(self, provider: str) -> list[float]:
        times: list[float] = httpx.get(f"{self.url(provider)}/_emulator/stats", timeout=5).json()["times_s"]
        return times


@pytest.fixture
def emulators() -> Iterator[Emulators]:
    servers = {name: ServerThread(lambda _url, name=name: serve.build(name, STEP_S)) for name in PROVIDERS}
    for server in servers.values():
        server.__enter__()
    try:
        yield Emulators(servers)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def poller_env(redis_url: str, emulators: Emulators, **overrides: str) -> dict[str, str]:
    env = {"HUB_REDIS_URL": redis_url, **CREDENTIALS}
    for name in PROVIDERS:
        prefix = f"HUB_{name.upper()}_"
        env[prefix + "BASE_URL"] = emulators.url(name)
        env[prefix + "POLL_INTERVAL_S"] = "0.3"
        env[prefix + "POLL_IDLE_INTERVAL_S"] = "0.3"
        env[prefix + "POLL_NEAR_ETA_INTERVAL_S"] = "0.3"
        env[prefix + "POLL_FINAL_INTERVAL_S"] = "0.3"
        env[prefix + "POLL_FINAL_WAIT_S"] = "30"
    env.update(
        HUB_POLL_RECONCILE_AFTER_S="0.5",
        HUB_POLL_BACKOFF_BASE_S="0.2",
        HUB_POLL_BACKOFF_MAX_S="1",
        HUB_POLL_UNAUTHORIZED_PAUSE_S="2",
        HUB_POLL_CONNECT_TIMEOUT_S="2",
        HUB_POLL_READ_TIMEOUT_S="0.5",
        HUB_POLL_TICK_S="0.05",
        HUB_POLL_LEASE_S="20",
    )
    env.update(overrides)
    return env


@pytest.fixture
def poll_env(redis_url: str, emulators: Emulators) -> dict[str, str]:
    return poller_env(redis_url, emulators)


@pytest.fixture
def poll_settings(poll_env: dict[str, str]) -> Settings:
    return Settings.from_env(poll_env)


class Processes:
    """``hub worker`` / ``hub scheduler`` subprocesses running this checkout; stopped at the end."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", *command],
            env=full_env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            if process.stderr:
                process.stderr.close()


@pytest.fixture
async def poller(redis: Redis, poll_settings: Settings) -> AsyncIterator[Poller]:
    async with http_client(poll_settings) as http:
        poller = Poller(redis, poll_settings, http)
        yield poller
        await poller.close()


@pytest.fixture
def processes() -> Iterator[Processes]:
    running = Processes()
    try:
        yield running
    finally:
        running.stop()


async def status_codes(redis: Redis, shipment_id: str) -> list[str]:
    """The provider codes of the shipment's status events, in history order."""
    entries = await redis.xrange(keys.history(shipment_id))
    codes = []
    for _, fields in entries:
        event = json.loads(fields["event"])
        if event["type"] == "shipment.status_changed":
            codes.append(str(event["data"]["provider_status"]["code"]))
    return codes
