"""Counters and histograms shared by every hub process, kept in Redis.

The hub runs as many processes (web, workers, scheduler, dispatcher, pusher); keeping
the counts in one Redis hash lets any web process serve the whole picture at
``/metrics`` in Prometheus' text format. Increments are fire-and-forget pipelines: a
metric must never slow down or fail the work it counts.

Gauges (what a process holds now, e.g. open connections) cannot be summed from
increments: each process *reports* its own with an expiry and renews it, and ``/metrics``
adds up the reports still current, so a process that died drops out by itself.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from collections.abc import Iterable, Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the latency histogram buckets.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def series(name: str, labels: dict[str, str]) -> str:
    """``name{a="x",b="y"}`` with labels sorted, as Prometheus prints it."""
    if not labels:
        return name
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


async def inc(redis: Redis, name: str, by: float = 1, **labels: str) -> None:
    try:
        await redis.hincrbyfloat(keys.METRICS, series(name, labels), by)
    except RedisError as exc:  # counting must never break the counted work
        log.warning("metric %s not recorded: %s", name, exc)


class Buffer:
    """Counts kept in memory and written within ``flush_interval_s``, for hot paths.

    ``add`` costs no round trip: the first ``add`` after a write schedules the next one.
    Call :meth:`flush` before the process exits to write what is left.
    """

    def __init__(self, redis: Redis, flush_interval_s: float = 1.0) -> None:
        self.redis = redis
        self.flush_interval_s = flush_interval_s
        self._counts: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._scheduled: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()

    def observe(self, name: str, value_s: float, **labels: str) -> None:
        """Add one observation to the histogram ``name`` (seconds), like :func:`observe`."""
        for series_name, series_labels, by in _observation(name, value_s, labels):
            self.add(series_name, by, **series_labels)

    def add(self, name: str, by: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self._counts[key] = self._counts.get(key, 0) + by
        if self._scheduled is None:
            self._scheduled = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_interval_s)
        self._scheduled = None
        await self.flush()

    async def close(self) -> None:
        """Write what is left now (the scheduled write would outlive the event loop)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        await self.flush()  # after a write already under way: the client may be closed next

    async def flush(self) -> None:
        async with self._writing:
            counts, self._counts = self._counts, {}
            if not counts:
                return
            pipe = self.redis.pipeline(transaction=False)
            for (name, labels), by in counts.items():
                pipe.hincrbyfloat(keys.METRICS, series(name, dict(labels)), by)
            try:
                await pipe.execute()
            except RedisError as exc:
                log.warning("metrics not recorded: %s", exc)


async def observe(redis: Redis, name: str, value_s: float, **labels: str) -> None:
    """Add one observation to the histogram ``name`` (seconds)."""
    pipe = redis.pipeline(transaction=False)
    for series_name, series_labels, by in _observation(name, value_s, labels):
        pipe.hincrbyfloat(keys.METRICS, series(series_name, series_labels), by)
    try:
        await pipe.execute()
    except RedisError as exc:
        log.warning("metric %s not recorded: %s", name, exc)


def _observation(
    name: str, value_s: float, labels: dict[str, str]
) -> list[tuple[str, dict[str, str], float]]:
    """The three series one histogram observation adds to: its bucket, the sum and the count."""
    bucket = BUCKETS_S[bisect.bisect_left(BUCKETS_S, value_s)] if value_s <= BUCKETS_S[-1] else "+Inf"
    return [
        (f"{name}_bucket", {**labels, "le": str(bucket)}, 1),
        (f"{name}_sum", labels, value_s),
        (f"{name}_count", labels, 1),
    ]


async def snapshot(redis: Redis) -> dict[str, float]:
    raw = await redis.hgetall(keys.METRICS)
    return {key: float(value) for key, value in raw.items()}


def report_entry(gauges: Mapping[str, float], ttl_ms: int) -> str:
    """One reporter's value in ``keys.GAUGES``: its gauges and when they stop counting."""
    return json.dumps({"expires_ms": int(time.time() * 1000) + ttl_ms, "gauges": dict(gauges)})


async def report(redis: Redis, reporter: str, gauges: Mapping[str, float], ttl_ms: int) -> None:
    """This process's gauges, current for ``ttl_ms`` (renew them more often than that)."""
    try:
        await redis.hset(keys.GAUGES, reporter, report_entry(gauges, ttl_ms))
    except RedisError as exc:
        log.warning("gauges of %s not reported: %s", reporter, exc)


async def withdraw(redis: Redis, reporter: str) -> None:
    """A process stopping takes its gauges out at once (rather than when they expire)."""
    try:
        await redis.hdel(keys.GAUGES, reporter)
    except RedisError as exc:
        log.warning("gauges of %s not withdrawn: %s", reporter, exc)


async def reported(redis: Redis) -> dict[str, float]:
    """Every current report's gauges, summed; expired reports are removed."""
    now_ms = int(time.time() * 1000)
    totals: dict[str, float] = {}
    expired = []
    for reporter, raw in (await redis.hgetall(keys.GAUGES)).items():
        entry = json.loads(raw)
        if entry["expires_ms"] <= now_ms:
            expired.append(reporter)
            continue
        for name, value in entry["gauges"].items():
            totals[name] = totals.get(name, 0.0) + value
    if expired:
        await redis.hdel(keys.GAUGES, *expired)
    return totals


def render(values: dict[str, float], gauges: Iterable[tuple[str, float]] = ()) -> str:
    """Prometheus text exposition; histogram buckets are made cumulative here."""
    cumulative = _cumulative_buckets(values)
    lines = [f"{key} {_number(value)}" for key, value in sorted({**values, **cumulative}.items())]
    lines += [f"{key} {_number(value)}" for key, value in gauges]
    return "\n".join(lines) + "\n"


def _cumulative_buckets(values: dict[str, float]) -> dict[str, float]:
    groups: dict[str, list[tuple[float, str, float]]] = {}
    for key, value in values.items():
        if "_bucket{" not in key:
            continue
        name_labels, _, le = key.rpartition(',le="') if ',le="' in key else key.rpartition('{le="')
        bound = float("inf") if le.startswith("+Inf") else float(le.rstrip('"}'))
        groups.setdefault(name_labels, []).append((bound, key, value))
    result: dict[str, float] = {}
    for entries in groups.values():
        running = 0.0
        for _, key, value in sorted(entries):
            running += value
            result[key] = running
    return result


def _escape(value: str) -> str:
    value = value.encode("utf-8", "backslashreplace").decode()  # a lone surrogate in a label: \ud800
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
