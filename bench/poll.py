"""How many shipments one host keeps current: the poller against an all24 emulator answering in 200 ms.

Starts a Redis-protocol server (embedded, unless HUB_REDIS_URL is set), the all24 emulator, one
``hub scheduler`` and ``--workers`` ``hub worker`` processes, all on 127.0.0.1. Registers
``--shipments`` parcel shipments with their first polls spread over one interval, lets the
poller run for ``--duration-s`` and reports polls/s, schedule lag (due time to poll start)
percentiles, CPU and memory; the figures are medians over ``--runs`` runs. The baseline,
measured in the same run, is a bare loop of GETs from the same emulator at the poller's
concurrency over the poller's own HTTP pool (no Redis, no RQ, no parsing): the ceiling the
emulator and loopback allow. The poller must respect ``--rate-limit`` (all24 documents none; the
default allows 167 polls/s with room): the busiest window of each limit is counted at the emulator.

    .venv/bin/python bench/poll.py                       # the issue's target, about 5 minutes
    .venv/bin/python bench/poll.py --shipments 2000 --duration-s 30 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import keys  # noqa: E402
from hub.clients import http_client  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402
from hub.infra import metrics  # noqa: E402
from hub.registry import shipments  # noqa: E402
from hub.settings import Settings  # noqa: E402

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--interval-s", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100, help="polls in flight per worker")
    parser.add_argument(
        "--rate-limit",
        default="250/1,12000/60",
        help="all24 limits the poller must respect (requests/window_s)",
    )
    args = parser.parse_args()
    results = [run(args, n) for n in range(args.runs)]
    print_table(args, results)


def run(args: argparse.Namespace, index: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), free_port()) as server:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HUB_REDIS_URL": server.url,
            "HUB_ALL24_API_KEY": "bench",
            "HUB_ALL24_BASE_URL": f"http://127.0.0.1:{port}",
            "HUB_ALL24_POLL_INTERVAL_S": str(args.interval_s),
            "HUB_ALL24_POLL_IDLE_INTERVAL_S": str(args.interval_s),
            "HUB_ALL24_POLL_NEAR_ETA_INTERVAL_S": str(args.interval_s),
            "HUB_ALL24_RATE_LIMITS": args.rate_limit,
            "HUB_POLL_READ_TIMEOUT_S": "10",
            "HUB_POLL_CONCURRENCY": str(args.concurrency),
            "HUB_POLL_BATCH_SIZE": str(args.concurrency),
        }
        emulator = _start(
            env,
            "emulator",
            "all24",
            "--port",
            str(port),
            "--step-s",
            "86400",
            "--latency-ms",
            str(args.latency_ms),
        )
        procs = [emulator]
        try:
            _wait_http(f"http://127.0.0.1:{port}/_emulator/stats")
            baseline = asyncio.run(_baseline(Settings.from_env(env), 2000, args.concurrency))
            asyncio.run(_register(server.url, args.shipments, args.interval_s))
            emulator_cpu_before_s = _cpu_s(emulator.pid)
            started_s = time.time()
            procs += [_start(env, "scheduler")] + [_start(env, "worker") for _ in range(args.workers)]
            time.sleep(args.duration_s)  # the measured run itself: the poller works meanwhile
            elapsed_s = time.time() - started_s
            cpu_s = sum(_cpu_s(p.pid) for p in procs[1:])
            rss_mb = sum(_rss_mb(p.pid) for p in procs[1:])
            emulator_cpu_s = _cpu_s(emulator.pid) - emulator_cpu_before_s
            figures = asyncio.run(_figures(server.url, f"http://127.0.0.1:{port}", args, started_s))
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGTERM)
            for p in reversed(procs):
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        figures.update(
            baseline_req_s=baseline,
            elapsed_s=elapsed_s,
            cpu_pct=100 * cpu_s / elapsed_s,
            cpu_ms_per_poll=1000 * cpu_s / max(1.0, figures["polls_per_s"] * elapsed_s),
            rss_mb=rss_mb,
            emulator_cpu_pct=100 * emulator_cpu_s / elapsed_s,
        )
        print(f"run {index + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in figures.items()), flush=True)
        return figures


def _start(env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


async def _baseline(settings: Settings, count: int, concurrency: int) -> float:
    """Bare GETs over the poller's HTTP pool at its concurrency: requests/s the emulator can serve."""
    gate = asyncio.Semaphore(concurrency)
    url = f"{settings.provider('all24').base_url}/v1/tracking/orders"
    async with http_client(settings, max_connections=concurrency) as http:

        async def one(n: int) -> None:
            async with gate:
                try:
                    await http.get(url, params={"all24_tracking_number": f"BASE{n}"}, auth=("bench", ""))
                except httpx.HTTPError:  # an overloaded emulator drops connections: the baseline says so
                    return

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - started)


async def _register(redis_url: str, count: int, interval_s: float) -> None:
    """Register the shipments, their first polls spread evenly over one interval from now."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        for start in range(0, count, 50):
            await asyncio.gather(
                *(
                    shipments.register(redis, "bench", "all24", f"HS{n:07d}")
                    for n in range(start, min(count, start + 50))
                )
            )
        ids = await redis.zrange(keys.POLL_DUE, 0, -1)
        now_ms = int(time.time() * 1000)
        spread = {sid: now_ms + int(i * interval_s * 1000 / len(ids)) for i, sid in enumerate(ids)}
        await redis.zadd(keys.POLL_DUE, spread)
    finally:
        await redis.aclose()


async def _figures(
    redis_url: str, base_url: str, args: argparse.Namespace, started_s: float
) -> dict[str, float]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        values = await metrics.snapshot(redis)
        overdue = await redis.zcount(keys.POLL_DUE, "-inf", int((time.time() - 5) * 1000))
    finally:
        await redis.aclose()
    async with httpx.AsyncClient(timeout=30) as http:
        times_s = sorted((await http.get(f"{base_url}/_emulator/stats")).json()["times_s"])
    times_s = [t for t in times_s if t >= started_s]
    busiest = {
        f"busiest_{window}s_of_{limit}": float(_busiest(times_s, float(window)))
        for limit, _, window in (pair.strip().partition("/") for pair in args.rate_limit.split(","))
    }
    polls = values.get('hub_polls_total{provider="all24"}', 0)
    lags = _quantiles(values, "hub_poll_lag_seconds", (0.5, 0.9, 0.99))
    return {
        "polls_per_s": polls / (time.time() - started_s),
        "needed_per_s": args.shipments / args.interval_s,
        "lag_p50_s": lags[0],
        "lag_p90_s": lags[1],
        "lag_p99_s": lags[2],
        "overdue_5s": float(overdue),
        **busiest,
    }


def _busiest(times_s: list[float], window_s: float) -> int:
    best, left = 0, 0
    for right, t in enumerate(times_s):
        while times_s[left] <= t - window_s:
            left += 1
        best = max(best, right - left + 1)
    return best


def _quantiles(values: dict[str, float], name: str, qs: tuple[float, ...]) -> list[float]:
    """Prometheus-style histogram_quantile over the raw (per-bucket) counts."""
    buckets = sorted(
        (float(re.search(r'le="([^"]+)"', k).group(1)), v)  # type: ignore[union-attr]
        for k, v in values.items()
        if k.startswith(f"{name}_bucket")
    )
    total = sum(v for _, v in buckets)
    result = []
    for q in qs:
        rank, seen, lower = q * total, 0.0, 0.0
        for upper, count in buckets:
            if seen + count >= rank and count:
                upper = lower * 2 if upper == float("inf") else upper
                result.append(lower + (upper - lower) * (rank - seen) / count)
                break
            seen, lower = seen + count, upper
        else:
            result.append(float("nan"))
    return result


def _cpu_s(pid: int) -> float:
    """User + system CPU of the process and its reaped children (RQ forks one per job)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS_PER_S


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def print_table(args: argparse.Namespace, results: list[dict[str, float]]) -> None:
    print(
        f"\n{args.shipments} all24 shipments every {args.interval_s:g} s, "
        f"emulator latency {args.latency_ms:g} ms, {args.workers} workers x {args.concurrency} in flight, "
        f"limits {args.rate_limit}; "
        f"median of {len(results)} run(s) of {args.duration_s:g} s"
    )
    for key in results[0]:
        print(f"  {key:<24} {statistics.median(r[key] for r in results):>10.3f}")


if __name__ == "__main__":
    main()
