"""The Procfile's processes as real subprocesses on a Redis that can be restarted.

Each process runs ``python -m hub <command>`` in its own session, so SIGKILL takes all of it
(uvicorn's children included) and restarting it is what a supervisor would do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from hub.dev.embedded import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ("web", "normalizer", "worker", "scheduler", "dispatcher")
STOP_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 90.0
POLL_S = 0.05


class Processes:
    """Starts, kills and restarts the hub's processes by name; every log goes to ``log_dir``."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, web_port: int) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.web_port = web_port
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}
        self._logs: list[IO[bytes]] = []

    def command(self, name: str) -> list[str]:
        args = ["serve", "--port", str(self.web_port)] if name == "web" else [name]
        return [sys.executable, "-m", "hub", *args]

    def start(self, name: str) -> None:
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.log_dir / f"{name}-{self.starts[name]}.log").open("wb")
        self._logs.append(log)
        self.running[name] = subprocess.Popen(
            self.command(name), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        process = self.running[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)

    def exited(self) -> dict[str, int]:
        """The processes that stopped on their own, with their exit status."""
        return {name: code for name, p in self.running.items() if (code := p.poll()) is not None}

    def stop_all(self) -> dict[str, int]:
        """SIGTERM everything, SIGKILL what is left after the timeout; returns the exit statuses."""
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        codes: dict[str, int] = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait()
        for log in self._logs:
            log.close()
        return codes


def hub_env(redis_url: str, web_port: int, admin_token: str, **overrides: str) -> dict[str, str]:
    """The processes' environment: loopback receivers allowed, short leases so a crash heals quickly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return env | {
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_url,
        "HUB_ADMIN_TOKEN": admin_token,
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "HUB_LOG_LEVEL": "warning",
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "HUB_WEBHOOK_RETRY_SCHEDULE_S": "0.2,0.5,1,2,2,2,2,2,2,2",
        "HUB_WEBHOOK_RETRY_JITTER": "0",
        "HUB_WEBHOOK_THROTTLED_MIN_WAIT_S": "1",
        "HUB_WEBHOOK_CONNECT_TIMEOUT_S": "1",
        "HUB_WEBHOOK_TOTAL_TIMEOUT_S": "2",
        "HUB_WEBHOOK_LEASE_S": "4",
        "HUB_WEBHOOK_RECLAIM_IDLE_MS": "1000",
        "HUB_INBOX_RECLAIM_IDLE_MS": "1000",
        # One merchant endpoint takes the whole stream: the per-endpoint throttle (100/s by default,
        # a protection for merchants) would be what the figures measure, not the hub.
        "HUB_WEBHOOK_MAX_PER_S": "0",
        **overrides,
    }


def readyz(web_port: int) -> int | None:
    """``GET /readyz``'s status, None when the web process does not answer."""
    try:
        return httpx.get(f"http://127.0.0.1:{web_port}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def wait_for(condition: object, timeout_s: float, what: str) -> None:
    """Poll ``condition()`` until it holds; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


def restartable_redis(data_dir: Path) -> EmbeddedRedis:
    """A dedicated server: ``stop()`` then ``start()`` brings it back on the same port and data."""
    return EmbeddedRedis(data_dir, free_port())
