"""Every background process outlives Redis going away, says so meanwhile, and carries on after.

The chaos test (tests/test_chaos.py) restarts Redis under traffic for web, normalizer, worker
and dispatcher; here the RQ worker meets Redis vanishing in the middle of a job (RQ then ends its
work loop, which used to make ``hub worker`` exit 0 and stay down), and the scheduler and the
Pusher listener meet a restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from rq import Queue

from hub import keys
from hub.dev.embedded import EmbeddedRedis, free_port
from hub.dev.supervisor import Supervisor
from tests.chaos import jobs
from tests.chaos.processes import hub_env, restartable_redis, wait_for

TIMEOUT_S = 60.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with restartable_redis(tmp_path / "redis") as started:
        yield started


def _check(env: dict[str, str]) -> int:
    """``hub check``: the background processes' health probe."""
    return subprocess.run(
        [sys.executable, "-m", "hub", "check"], env=env, capture_output=True, timeout=30
    ).returncode


@pytest.mark.slow
def test_the_worker_waits_for_redis_after_losing_it_mid_job_then_works_on(
    server: EmbeddedRedis, tmp_path: Path
) -> None:
    env = hub_env(server.url, free_port(), "unused")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        client = redis.Redis.from_url(server.url)
        wait_for(lambda: client.scard("rq:workers") > 0, TIMEOUT_S, "the worker to register")
        Queue("hub-webhooks", connection=client).enqueue(jobs.shut_redis_down)
        assert server.process is not None
        server.process.wait(timeout=TIMEOUT_S)  # the job shut Redis down under RQ
        wait_for(
            lambda: b"waiting for it to come back" in log_path.read_bytes(), TIMEOUT_S, "the worker to wait"
        )
        assert worker.poll() is None, log_path.read_text()
        assert _check(env) != 0  # its health probe says Redis is unreachable

        server.start()
        client = redis.Redis.from_url(server.url)
        Queue("hub-webhooks", connection=client).enqueue(jobs.mark, "after the restart")
        wait_for(
            lambda: client.get(jobs.MARK_KEY) == b"after the restart", TIMEOUT_S, "a job after the restart"
        )
        assert _check(env) == 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=TIMEOUT_S) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.mark.slow
def test_the_scheduler_and_the_pusher_listener_outlive_a_redis_restart(server: EmbeddedRedis) -> None:
    emulator_port = free_port()
    env = hub_env(server.url, free_port(), "unused") | {
        "HUB_HLD_PUSHER_KEY": "emulator-key",
        "HUB_PUSHER_HOST": f"ws://127.0.0.1:{emulator_port}",
        "HUB_HLD_BASE_URL": f"http://127.0.0.1:{emulator_port}",
    }
    emulator, hub = Supervisor(env), Supervisor(env)
    emulator.start("pusher-emulator", "emulator", "pusher", "--port", str(emulator_port))
    try:
        wait_for(lambda: _up(f"http://127.0.0.1:{emulator_port}/_emulator/state"), TIMEOUT_S, "the emulator")
        hub.start("scheduler", "scheduler")
        hub.start("pusher", "pusher")
        client = redis.Redis.from_url(server.url)
        wait_for(lambda: client.zcard(keys.PUSHER_WORKERS) > 0, TIMEOUT_S, "the Pusher listener to report")
        server.stop()
        assert _check(env) != 0
        assert hub.failed() is None
        server.start()
        client = redis.Redis.from_url(server.url)
        client.delete(keys.PUSHER_WORKERS)  # its report from before the restart
        wait_for(
            lambda: client.zcard(keys.PUSHER_WORKERS) > 0, TIMEOUT_S, "the Pusher listener to report again"
        )
        assert hub.failed() is None
        codes = {}
        for child in hub.children:
            assert child.process is not None
            os.killpg(child.process.pid, signal.SIGTERM)
            codes[child.name] = child.process.wait(timeout=TIMEOUT_S)
        assert codes == {"scheduler": 0, "pusher": 0}
    finally:
        hub.stop()
        emulator.stop()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_the_worker_exits_non_zero_on_an_error_that_is_not_redis_and_its_restart_works_on(
    server: EmbeddedRedis, tmp_path: Path
) -> None:
    """A job record RQ cannot read ends RQ's loop: the worker says so with its exit status (so
    ``Restart=on-failure`` restarts it) instead of 0, and the restarted worker is not stuck on it."""
    env = hub_env(server.url, free_port(), "unused")
    client = redis.Redis.from_url(server.url)
    started: list[subprocess.Popen[bytes]] = []

    def worker() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            started.append(
                subprocess.Popen([sys.executable, "-m", "hub", "worker"], env=env, stdout=log, stderr=log)
            )
        return started[-1]

    try:
        first = worker()
        wait_for(lambda: client.scard("rq:workers") > 0, TIMEOUT_S, "the worker to register")
        record = {"created_at": "not a time", "data": b"\x00", "status": "queued", "origin": "hub-webhooks"}
        client.hset("rq:job:unreadable", mapping=record)
        client.rpush("rq:queue:hub-webhooks", "unreadable")
        assert first.wait(timeout=TIMEOUT_S) not in (0, None)

        second = worker()
        Queue("hub-webhooks", connection=client).enqueue(jobs.mark, "restarted")
        wait_for(lambda: client.get(jobs.MARK_KEY) == b"restarted", TIMEOUT_S, "a job after the restart")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=TIMEOUT_S) == 0
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_background_processes_started_before_redis_wait_for_it(tmp_path: Path) -> None:
    server = restartable_redis(tmp_path / "redis")  # not started yet
    env = hub_env(server.url, free_port(), "unused")
    names = ("worker", "dispatcher", "normalizer", "scheduler")
    logs = {name: tmp_path / f"{name}.log" for name in names}
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in names:
            with logs[name].open("wb") as log:
                running[name] = subprocess.Popen(
                    [sys.executable, "-m", "hub", name], env=env, stdout=log, stderr=subprocess.STDOUT
                )
        wait_for(
            lambda: all(b"refused" in path.read_bytes() for path in logs.values()),
            TIMEOUT_S,
            "every process to find Redis missing",
        )
        assert {name: p.poll() for name, p in running.items()} == dict.fromkeys(names)
        server.start()
        client = redis.Redis.from_url(server.url)
        wait_for(lambda: client.scard("rq:workers") > 0, TIMEOUT_S, "the worker to register")
        wait_for(lambda: _groups(client) == {"normalizers", "webhooks"}, TIMEOUT_S, "both consumer groups")
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        assert {name: p.wait(timeout=TIMEOUT_S) for name, p in running.items()} == dict.fromkeys(names, 0)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        server.stop()


def _groups(client: redis.Redis) -> set[str]:
    found = set()
    for stream in (keys.INBOX, keys.EVENTS):
        with contextlib.suppress(redis.ResponseError):
            found |= {g["name"].decode() for g in client.xinfo_groups(stream)}
    return found
