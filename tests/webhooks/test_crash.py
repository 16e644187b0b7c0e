"""A dispatcher and a delivery worker SIGKILLed mid-delivery lose nothing (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hub.settings import Settings
from tests.webhooks.conftest import FAST_SCHEDULE, Hub, Receiver, eventually

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: list[tuple[subprocess.Popen[bytes], object]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{command[0]}-{len(self.running)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", *command], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append((process, log))
        return process

    def stop_all(self) -> None:
        for process, log in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()  # type: ignore[attr-defined]


@pytest.fixture
def processes(wh_settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": wh_settings.redis_url or "",
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "HUB_WEBHOOK_RETRY_SCHEDULE_S": FAST_SCHEDULE,
        "HUB_WEBHOOK_LEASE_S": "2",
        "HUB_WEBHOOK_RECLAIM_IDLE_MS": "1000",
    }
    running = Processes(env, tmp_path)
    yield running
    running.stop_all()


@pytest.mark.slow
async def test_sigkilled_dispatcher_and_worker_lose_nothing(
    redis: Redis, wh_settings: Settings, processes: Processes, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers(lambda count, event: (200, {}, 0.2))  # slow enough to be caught mid-request
    rig = Hub(redis, wh_settings)  # used only to create the endpoint and append events; not started
    await rig.dispatcher.ensure_group()
    await rig.endpoint(receiver, url)

    dispatcher = processes.start("dispatcher")
    worker = processes.start("delivery-worker")
    emitted = []
    for n in range(6):
        emitted += await rig.emit(f"shp_{n}", count=4)
    await eventually(lambda: len(receiver.requests) >= 3, 30, "deliveries under way")
    worker.kill()
    dispatcher.kill()
    worker.wait(timeout=10)
    dispatcher.wait(timeout=10)
    for n in range(6):
        emitted += await rig.emit(f"shp_{n}", count=2)

    processes.start("dispatcher")
    processes.start("delivery-worker")
    wanted = {e["id"] for e in emitted}
    await eventually(lambda: wanted <= set(receiver.accepted_ids()), 60, "all 36 events after the restart")
    for n in range(6):
        firsts: list[int] = []
        for r in receiver.accepted():
            if r.event["partitionkey"] == f"shp_{n}" and r.event["sequence"] not in firsts:
                firsts.append(r.event["sequence"])
        assert firsts == [1, 2, 3, 4, 5, 6]
    assert receiver.unverified == 0
