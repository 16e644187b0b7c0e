"""Two `hub pusher` processes share the channels; a survivor takes over a killed one's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pusher
import pytest
from redis.asyncio import Redis

from hub import keys
from tests.pusher.conftest import KEY, register, status_event, stream_events, subscribed, trigger
from tests.servers import ServerThread, eventually

ROOT = Path(__file__).resolve().parents[2]


def _env(redis_url: str, emulator_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_url,
        "HUB_HLD_PUSHER_KEY": KEY,
        "HUB_HLD_PUSHER_CLUSTER": "emu",
        "HUB_PUSHER_HOST": emulator_url.replace("http://", "ws://"),
        "HUB_HLD_BASE_URL": emulator_url,
        "HUB_PUSHER_LEASE_TTL_MS": "1500",
        "HUB_PUSHER_CHANNELS_PER_CONNECTION": "10",
        "HUB_PUSHER_COALESCE_MS": "0",
        "HUB_PUSHER_BACKOFF_MIN_MS": "100",
    }


@pytest.fixture
def processes(
    redis_url: str, emulator: ServerThread, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    for index in range(2):
        with (tmp_path / f"pusher{index}.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "hub", "pusher"],
                    env=_env(redis_url, emulator.url),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
async def test_two_processes_share_channels_and_a_survivor_takes_over(
    redis: Redis,
    processes: list[subprocess.Popen[bytes]],
    control: httpx.AsyncClient,
    trigger_client: pusher.Pusher,
) -> None:
    tokens = await register(redis, 60)
    channels = sorted(f"hld.order.{t}" for t in tokens)

    async def shared() -> bool:
        return await redis.zcard(keys.PUSHER_WORKERS) == 2 and await subscribed(control) == channels

    await eventually(shared, "both workers live and every channel subscribed exactly once", timeout_s=30)
    processes[0].kill()  # no goodbye: its lease must run out
    processes[0].wait()

    async def survivors_share() -> int:
        count = len(await subscribed(control))
        return count if 0 < count < len(channels) else 0

    # Until the lease runs out only the survivor's share is subscribed: each process held some.
    await eventually(survivors_share, "the killed process's channels to drop", timeout_s=10)

    async def taken_over() -> bool:
        return await redis.zcard(keys.PUSHER_WORKERS) == 1 and await subscribed(control) == channels

    await eventually(taken_over, "the survivor to hold every channel", timeout_s=30)
    await trigger(trigger_client, [status_event(t, 3, "2026-04-04T10:48:00Z") for t in tokens])

    async def delivered() -> bool:
        return len(await stream_events(redis)) >= len(tokens)

    await eventually(delivered, "a status for every shipment", timeout_s=30)
    appended = await stream_events(redis)
    assert Counter(e["data"]["provider_ref"] for e in appended) == Counter(tokens)
