"""Every process of the Procfile stops on SIGTERM within a bounded time, and cleanly."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import redis

from hub import keys
from hub.dev.embedded import free_port
from hub.dev.supervisor import Supervisor
from tests.conftest import ROOT
from tests.servers import wait_until

STOP_WITHIN_S = 30.0


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _all_running(redis_url: str) -> bool:
    """Each process has announced itself in Redis, so it is past installing its signal handlers."""
    with redis.Redis.from_url(redis_url) as client:
        worker = client.scard("rq:workers") > 0
        pusher = client.zcard(keys.PUSHER_WORKERS) > 0
        dispatcher = _has_group(client, keys.EVENTS, keys.WEBHOOK_GROUP)
        normalizer = _has_group(client, keys.INBOX, keys.INBOX_GROUP)
    return worker and pusher and dispatcher and normalizer


def _has_group(client: redis.Redis, stream: str, group: str) -> bool:
    try:
        return any(g["name"] == group.encode() for g in client.xinfo_groups(stream))
    except redis.ResponseError:
        return False


def test_every_process_stops_cleanly_on_sigterm(redis_url: str, tmp_path: Path) -> None:
    web_port, pusher_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_url,
        "HUB_HLD_PUSHER_KEY": "emulator-key",
        "HUB_PUSHER_HOST": f"ws://127.0.0.1:{pusher_port}",
        "HUB_HLD_BASE_URL": f"http://127.0.0.1:{pusher_port}",
    }
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()  # no worker or lease left by an earlier test
    supervisor = Supervisor(env)
    emulator = Supervisor(env)
    emulator.start("pusher-emulator", "emulator", "pusher", "--port", str(pusher_port))
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{pusher_port}/_emulator/state"), 60, "the Pusher emulator")
        supervisor.start("web", "serve", "--port", str(web_port))
        for process in ("normalizer", "worker", "scheduler", "dispatcher", "pusher"):
            supervisor.start(process, process)
        wait_until(lambda: _up(f"http://127.0.0.1:{web_port}/readyz"), 60, "the web process")
        wait_until(lambda: _all_running(redis_url), 60, "every process to be at work")
        assert supervisor.failed() is None
        started = time.monotonic()
        codes: dict[str, int] = {}
        for child in supervisor.children:
            assert child.process is not None
            os.killpg(child.process.pid, signal.SIGTERM)
        for child in supervisor.children:
            assert child.process is not None
            code = child.process.wait(timeout=STOP_WITHIN_S)
            codes[child.name] = code
        assert time.monotonic() - started < STOP_WITHIN_S
        # uvicorn re-raises the signal once its graceful shutdown is done, so the web process reports it.
        others = {"normalizer": 0, "worker": 0, "scheduler": 0, "dispatcher": 0, "pusher": 0}
        assert codes == {"web": -signal.SIGTERM, **others}
    finally:
        supervisor.stop()
        emulator.stop()
