"""Webhook delivery benchmark: throughput to a fast receiver, and ingest-to-delivery delay under a mix.

    /work/main/.venv/bin/python bench/deliver.py [--runs 3] [--deliveries 3000] [--rate 200] [--seconds 10]

1. Throughput: ``--deliveries`` deliveries queued for 4 endpoints, sent by one delivery
   engine (one worker process); baseline: the same number of bare aiohttp POSTs at the same
   concurrency (no Redis, no signing) to the same receiver.
2. Mix: 20 endpoints of 20 merchants (13 healthy, 5 down, 2 answering in 2 s), events
   appended at ``--rate``/s for ``--seconds`` through the real store, a dispatcher and an
   engine running; the delay is measured by the receiver from the event's ``recordedtime``.
   Baseline: POSTing the same events straight to the healthy receivers at the same rate.

Receivers run in a separate process (raw asyncio HTTP/1.1, keep-alive). Loopback only;
every loop is bounded in count and time. Redis: HUB_REDIS_URL, else an embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.dev.embedded import EmbeddedRedis, free_port
from hub.settings import Settings
from hub.streams.append import Store
from hub.webhooks import endpoints
from hub.webhooks.dispatcher import Dispatcher
from hub.webhooks.engine import DeliveryEngine, engine_redis
from hub.webhooks.queue import Deliveries
from hub.webhooks.signing import SecretBox

SLOW_S = 2.0
WAIT_LIMIT_S = 120.0


# ---- the receiver process ------------------------------------------------------------------


async def _serve(ports: list[int], slow_ports: set[int]) -> None:
    delays_ms: dict[int, list[float]] = {port: [] for port in ports}
    seen: set[tuple[int, str]] = set()  # (port, event id): the same event twice at one endpoint
    duplicates = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET"):  # the delays so far, then forget them
                    body = json.dumps({str(p): d for p, d in delays_ms.items()}).encode()
                    if duplicates[0]:
                        print(f"receiver: {duplicates[0]} duplicate event ids", file=sys.stderr)
                    for delays in delays_ms.values():
                        delays.clear()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                    continue
                match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                if port in slow_ports:
                    await asyncio.sleep(SLOW_S)
                else:
                    event = json.loads(body)
                    recorded = event.get("recordedtime")
                    if (port, event.get("id")) in seen:
                        duplicates[0] += 1
                    seen.add((port, event.get("id")))
                    if recorded:
                        sent = datetime.fromisoformat(recorded.replace("Z", "+00:00")).timestamp()
                        delays_ms[port].append((time.time() - sent) * 1000)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    servers = [
        await asyncio.start_server(lambda r, w, p=port: handle(r, w, p), "127.0.0.1", port, backlog=1024)
        for port in ports
    ]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for server in servers:
        server.close()


# ---- the benchmark -------------------------------------------------------------------------


_RUN = f"{os.getpid()}_{time.time_ns()}"  # event ids differ between bench invocations...


def _event(shipment_id: str, merchant_id: str, n: int) -> dict[str, Any]:
    """Event ``n`` of a shipment; shipment ids carry the phase and run (see callers), so ids never repeat."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return {
        "specversion": "1.0",
        "id": f"evt_bench_{_RUN}_{shipment_id}_{n}",
        "source": "/providers/all24",
        "type": "shipment.status_changed",
        "subject": f"shipments/{shipment_id}",
        "time": stamp,
        "datacontenttype": "application/json",
        "recordedtime": stamp,
        "partitionkey": shipment_id,
        "data": {
            "shipment_id": shipment_id,
            "merchant_id": merchant_id,
            "provider": "all24",
            "status": "in_transit",
            "provider_status": None,  # the store reads it (an event the hub builds always has it)
        },
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _stats(control_port: int) -> dict[int, list[float]]:
    async with httpx.AsyncClient(trust_env=False) as http:
        raw = (await http.get(f"http://127.0.0.1:{control_port}/")).json()
    return {int(port): delays for port, delays in raw.items()}


async def _queue_deliveries(
    redis: Redis, settings: Settings, urls: list[str], count: int, run: int
) -> list[str]:
    """``count`` deliveries spread over one endpoint per url, created by the real dispatcher."""
    box = SecretBox(())
    created = [await endpoints.create(redis, box, "mer_bench", url) for url in urls]
    dispatcher = Dispatcher(redis, settings)
    await dispatcher.ensure_group()
    store = Store(redis, settings)
    per_url = count // len(urls)
    for start in range(0, per_url, 500):  # each event goes to every endpoint
        await store.append(
            [_event(f"shp_{run}_{n % 200}", "mer_bench", n) for n in range(start, min(per_url, start + 500))]
        )
    while await dispatcher.step(block_ms=100):
        pass
    return [endpoint.id for endpoint, _ in created]


async def throughput(
    redis: Redis, settings: Settings, urls: list[str], count: int, run: int
) -> tuple[float, float]:
    await redis.flushall()
    ids = await _queue_deliveries(redis, settings, urls, count, run)
    total = len(ids) * (count // len(urls))
    engine = DeliveryEngine(redis, settings)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(engine.run(stop))
    deadline = time.monotonic() + WAIT_LIMIT_S
    deliveries = Deliveries(redis, settings.webhook.retention_s)
    while await deliveries.waiting() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls Redis
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    succeeded = 0
    for ident in ids:
        found, _ = await deliveries.page(ident, limit=total, status="succeeded")
        succeeded += len(found)
    hub_rate = succeeded / elapsed
    if succeeded < total:
        print(f"  hub: only {succeeded} of {total} deliveries succeeded")

    bodies = [json.dumps(_event(f"shp_baseline_{run}", "mer_bench", n)) for n in range(total)]
    semaphore = asyncio.Semaphore(settings.webhook.worker_concurrency)
    pools = {url: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) for url in urls}
    try:  # one pool per url, as the engine keeps one per endpoint

        async def post(n: int) -> bool:
            async with semaphore:
                try:
                    url = urls[n % len(urls)]
                    async with pools[url].post(
                        url, data=bodies[n], headers={"content-type": "application/json"}
                    ) as r:
                        await r.read()
                except aiohttp.ClientError as exc:
                    errors.append(repr(exc))
                    return False
                return True

        errors: list[str] = []
        started = time.perf_counter()
        done = sum(await asyncio.gather(*(post(n) for n in range(total))))
        baseline_rate = done / (time.perf_counter() - started)
        if errors:
            print(f"  baseline: {len(errors)} of {total} POSTs failed, e.g. {errors[0]}")
    finally:
        for pool in pools.values():
            await pool.close()
    return hub_rate, baseline_rate


async def _paced(rate: int, total: int, send: Any) -> None:
    """Call ``send(n)`` for n < total, event n at n / rate seconds, without waiting for it to finish."""
    pending: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        task = asyncio.create_task(send(n))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=WAIT_LIMIT_S)


async def mix(
    redis: Redis,
    settings: Settings,
    urls: list[str],
    healthy: int,
    rate: int,
    seconds: int,
    control: int,
    run: int,
) -> tuple[list[float], list[float]]:
    """Delays (ms) at the healthy endpoints: through the hub, and POSTed directly (baseline)."""
    await redis.flushall()
    await _stats(control)  # reset
    box = SecretBox(())
    for n, url in enumerate(urls):
        await endpoints.create(redis, box, f"mer_{n}", url)
    stop = asyncio.Event()
    dispatcher, engine = Dispatcher(redis, settings), DeliveryEngine(redis, settings)
    await dispatcher.ensure_group()

    async def kick() -> None:
        engine.wake()

    dispatcher.kick = kick
    tasks = [asyncio.create_task(dispatcher.run(stop)), asyncio.create_task(engine.run(stop))]
    store = Store(redis, settings)
    total = rate * seconds
    expected = sum(1 for n in range(total) if n % len(urls) < healthy)

    async def append(n: int) -> None:
        merchant = n % len(urls)
        await store.append([_event(f"shp_{run}_{merchant}_{n % 7}", f"mer_{merchant}", n)])

    await _paced(rate, total, append)
    hub_delays: list[float] = []
    deadline = time.monotonic() + WAIT_LIMIT_S
    while len(hub_delays) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        hub_delays += [d for delays in (await _stats(control)).values() for d in delays]
    stop.set()
    await asyncio.gather(*tasks)

    async with aiohttp.ClientSession() as http:

        async def post(n: int) -> None:
            body = json.dumps(_event(f"shp_direct_{run}", "mer_0", n))
            async with http.post(
                urls[n % healthy], data=body, headers={"content-type": "application/json"}
            ) as r:
                await r.read()

        await _paced(rate, expected, post)
    baseline = [d for delays in (await _stats(control)).values() for d in delays]
    return hub_delays, baseline


async def run(args: argparse.Namespace, redis_url: str) -> None:
    ports = [free_port() for _ in range(20)]
    control = ports[0]
    slow_ports = ports[13:15]
    dead_urls = [f"http://127.0.0.1:{free_port()}/hook" for _ in range(5)]  # nothing listens there
    receiver = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is measured
        [
            sys.executable,
            __file__,
            "--receiver",
            ",".join(map(str, ports[:15])),
            "--slow",
            ",".join(map(str, slow_ports)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert receiver.stdout is not None and receiver.stdin is not None
    if receiver.stdout.readline().strip() != b"ready":
        receiver.stdin.close()
        raise SystemExit("the receiver process did not start (a port was taken?); run again")
    base = {
        "HUB_REDIS_URL": redis_url,
        "HUB_WEBHOOK_ALLOW_HTTP": "1",
        "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    redis = engine_redis(Settings.from_env(base))
    try:
        fast_urls = [f"http://127.0.0.1:{p}/hook" for p in ports[1:5]]
        fast = Settings.from_env(
            {
                **base,
                "HUB_WEBHOOK_MAX_PER_S": "0",
                "HUB_WEBHOOK_MAX_IN_FLIGHT": "0",
                "HUB_WEBHOOK_WORKER_CONCURRENCY": "128",
            }
        )
        rates = [await throughput(redis, fast, fast_urls, args.deliveries, run) for run in range(args.runs)]
        print(
            f"throughput  hub: {statistics.median(r[0] for r in rates):7.0f} deliveries/s   "
            f"baseline (bare aiohttp POSTs): {statistics.median(r[1] for r in rates):7.0f} requests/s   "
            f"(median of {args.runs} runs of {args.deliveries})"
        )
        settings = Settings.from_env(base)
        urls = [f"http://127.0.0.1:{p}/hook" for p in ports[:15]] + dead_urls  # 13 healthy, 2 slow, 5 down
        runs = [
            await mix(redis, settings, urls, 13, args.rate, args.seconds, control, run)
            for run in range(args.runs)
        ]
        for label, index in (("hub", 0), ("baseline (direct POST)", 1)):
            p50 = statistics.median(_percentile(r[index], 0.50) for r in runs)
            p99 = statistics.median(_percentile(r[index], 0.99) for r in runs)
            got = statistics.median(len(r[index]) for r in runs)
            print(
                f"mix {args.rate} events/s x {args.seconds} s, healthy endpoints, {label:>22}: "
                f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({got:.0f} delivered, median of {args.runs} runs)"
            )
    finally:
        await redis.aclose()
        receiver.stdin.close()
        receiver.wait(timeout=10)
        receiver.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=200, help="events per second in the mix")
    parser.add_argument("--seconds", type=int, default=10, help="how long the mix runs")
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    parser.add_argument("--slow", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        ports = [int(p) for p in args.receiver.split(",")]
        asyncio.run(_serve(ports, {int(p) for p in args.slow.split(",") if p}))
        return
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if os.environ.get("HUB_REDIS_URL"):
        asyncio.run(run(args, os.environ["HUB_REDIS_URL"]))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), free_port()) as server:
        asyncio.run(run(args, server.url))


if __name__ == "__main__":
    main()
