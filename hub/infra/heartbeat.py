"""Every long-running process says it is alive, so a missing one can raise an alert.

A daemon thread with its own small synchronous Redis client reports
``hub_processes{process="<kind>"} 1`` as a gauge (:func:`hub.metrics.report`'s format) every
``INTERVAL_S``, current for ``TTL_MS``; ``/metrics`` sums the reports still current, so it
shows how many processes of each kind are running and 0 for a kind with none. A thread, not
a task on the process's loop: it works the same in every process (asyncio, RQ, the
scheduler's plain loop) without touching their main loops. It proves the process is alive
and reaches Redis; work that stalls while the process lives shows as lag (see
``deploy/prometheus/alerts.yml``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType
from typing import Any

import redis
from redis.cluster import RedisCluster

from hub import keys
from hub.infra import metrics
from hub.settings import Settings

log = logging.getLogger(__name__)

# The Procfile's processes; /metrics shows each, 0 when none reports.
PROCESSES = ("web", "normalizer", "worker", "scheduler", "dispatcher", "pusher")
INTERVAL_S = 5.0
TTL_MS = 20_000  # four beats: one slow write or a short Redis blip does not drop the process
CLIENT_TIMEOUT_S = 2.0


def gauge(process: str) -> str:
    return metrics.series("hub_processes", {"process": process})


class Heartbeat:
    """``with Heartbeat(settings, "normalizer"):`` around the process's whole run."""

    def __init__(self, settings: Settings, process: str) -> None:
        self.settings = settings
        self.process = process
        self.reporter = f"process:{process}:{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{process}", daemon=True)
        self._client: Any = None

    def __enter__(self) -> Heartbeat:
        if self.settings.redis_url:  # without it the process itself says what is missing
            self._client = _client(self.settings)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._client is None:
            return
        self._stop.set()
        self._thread.join(timeout=CLIENT_TIMEOUT_S * 2)
        try:
            self._client.hdel(keys.GAUGES, self.reporter)  # gone at once, not when the report expires
        except (redis.RedisError, OSError) as exc:
            log.warning("heartbeat of %s not withdrawn: %s", self.process, exc)
        finally:
            self._client.close()

    def _run(self) -> None:
        failing = False
        alive = {gauge(self.process): 1.0}
        while not self._stop.is_set():
            try:
                self._client.hset(keys.GAUGES, self.reporter, metrics.report_entry(alive, TTL_MS))
                if failing:
                    log.info("heartbeat of %s reported again", self.process)
                failing = False
            except (redis.RedisError, OSError) as exc:
                if not failing:  # once per outage, not every beat
                    log.warning("heartbeat of %s not reported: %s", self.process, exc)
                failing = True
            self._stop.wait(INTERVAL_S)


def _client(settings: Settings) -> Any:
    timeouts = {"socket_timeout": CLIENT_TIMEOUT_S, "socket_connect_timeout": CLIENT_TIMEOUT_S}
    url = settings.redis_url or ""
    if settings.redis_cluster:
        return RedisCluster.from_url(url, **timeouts)
    return redis.Redis.from_url(url, **timeouts)
