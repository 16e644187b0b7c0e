"""Live fan-out benchmark: webhook POST -> WebSocket receipt latency, and idle sockets per process.

Starts an embedded Redis and one ``hub serve`` process on 127.0.0.1, registers shipments,
subscribes sockets by tracking token and posts Alopeyk webhooks (one courier position
each) at a fixed rate. Latency is from just before the POST to the frame's arrival on a
subscribed socket, measured in this (client) process. The baseline, measured in the
same run, is one socket at a low rate. Every figure is the median of ``--runs`` runs.

    /work/main/.venv/bin/python bench/live.py            # defaults: 500 events/s, 2,000 sockets
    /work/main/.venv/bin/python bench/live.py --quick    # a smaller, faster check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.embedded import EmbeddedRedis, free_port  # noqa: E402

ADMIN = "bench-admin-token"
FIXTURE = json.loads((ROOT / "tests/fixtures/alopeyk/webhook_accepted.json").read_text())
CONNECT_CONCURRENCY = 50
DRAIN_TIMEOUT_S = 30.0
IDLE_STEP = 1000


def webhook(order_id: int, lat: float | None = None) -> dict[str, Any]:
    body = json.loads(json.dumps(FIXTURE))
    body["order"]["id"] = order_id
    if lat is not None:
        body["order"]["last_position_minimal"] = {
            "lat": lat,
            "lng": 51.41,
            "updated_at": "2017-09-12 18:59:00",
        }
    return body


class Hub:
    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HUB_REDIS_URL": redis_url,
            "HUB_ADMIN_TOKEN": ADMIN,
            "HUB_LIVE_MAX_PER_IP": "1000000",
            "HUB_LIVE_MAX_PER_MERCHANT": "1000000",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{self.url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("hub serve did not start")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


async def subscribe(url: str, token: str) -> ClientConnection:
    ws = await connect(url, open_timeout=30, ping_interval=None, max_queue=None)
    await ws.send(json.dumps({"type": "subscribe", "tracking_token": token}))
    for _ in range(2):  # subscribed, snapshot
        await ws.recv()
    return ws


async def open_sockets(hub: Hub, tokens: list[str], count: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> ClientConnection:
        async with gate:
            return await subscribe(f"ws://127.0.0.1:{hub.port}/v1/live", tokens[i % len(tokens)])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def latency_run(
    http: httpx.AsyncClient,
    path: str,
    orders: list[int],
    sockets: list[ClientConnection],
    rate: int,
    seconds: float,
    run: int,
) -> list[float]:
    """Post ``rate`` webhooks a second for ``seconds``; latencies (ms) of every receipt."""
    per_order = len(sockets) // len(orders)
    sent: dict[float, float] = {}
    latencies: list[float] = []
    expected = int(rate * seconds) * per_order
    done = asyncio.Event()

    async def reader(ws: ClientConnection) -> None:
        while not done.is_set():
            try:
                frame = json.loads(await ws.recv())
            except ConnectionClosed as closed:
                print(f"  a socket was closed under load: {closed}")
                return
            if frame["type"] != "event":
                continue
            lat = frame["event"]["data"]["location"]["lat"]
            if lat in sent:  # not an event of an earlier run still queued on this socket
                latencies.append((time.perf_counter() - sent[lat]) * 1000)
            if len(latencies) >= expected:
                done.set()

    async def post(i: int) -> None:
        lat = round(30 + run / 100 + i / 1_000_000, 6)  # unique per event, a valid latitude
        sent[lat] = time.perf_counter()
        response = await http.post(path, json=webhook(orders[i % len(orders)], lat))
        response.raise_for_status()

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    posts = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the load, not synchronizing
        posts.append(asyncio.create_task(post(i)))
    await asyncio.gather(*posts)
    try:
        await asyncio.wait_for(done.wait(), DRAIN_TIMEOUT_S)
    except TimeoutError:
        print(f"  run {run}: only {len(latencies)} of {expected} receipts within {DRAIN_TIMEOUT_S} s")
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def _ms(pair: tuple[float, float]) -> str:
    return f"p50 {pair[0]:.1f} ms, p99 {pair[1]:.1f} ms"


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as redis:
        hub = Hub(redis.url)
        limits = httpx.Limits(max_connections=100)
        try:
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                await hub.ready(http)
                created = await http.post(
                    f"{hub.url}/v1/merchants",
                    json={"name": "bench"},
                    headers={"Authorization": f"Bearer {ADMIN}"},
                )
                merchant = created.json()
                path = f"{hub.url}{httpx.URL(merchant['alopeyk_webhook_url']).path}"
                auth = {"Authorization": f"Bearer {merchant['api_key']}"}
                orders = list(range(500_000, 500_000 + args.shipments))
                tokens = []
                for order_id in orders:
                    [shipment_id] = (await http.post(path, json=webhook(order_id))).json()["shipment_ids"]
                    tokens.append(
                        (await http.get(f"{hub.url}/v1/shipments/{shipment_id}", headers=auth)).json()[
                            "tracking_token"
                        ]
                    )

                baseline_socket = await open_sockets(hub, tokens[:1], 1)
                rss_before = hub.rss_kib()
                sockets = await open_sockets(hub, tokens, args.sockets)
                print(f"{args.sockets} sockets over {args.shipments} shipments; {args.rate} events/s", end="")
                print(f" for {args.seconds} s; {args.runs} runs")
                baseline, loaded = [], []
                for run in range(args.runs):
                    low = await latency_run(http, path, orders[:1], baseline_socket, 20, 2, 50 + run)
                    high = await latency_run(http, path, orders, sockets, args.rate, args.seconds, run)
                    baseline.append((pct(low, 0.5), pct(low, 0.99)))
                    loaded.append((pct(high, 0.5), pct(high, 0.99)))
                    print(f"  run {run}: baseline {_ms(baseline[-1])} | loaded {_ms(loaded[-1])}")
                print(f"latency, baseline (1 socket, 20 events/s), median of runs: {_ms(_median(baseline))}")
                print(
                    f"latency, loaded ({args.sockets} sockets, {args.rate} events/s): {_ms(_median(loaded))}"
                )
                for ws in sockets + baseline_socket:
                    await ws.close()

                idle: list[ClientConnection] = []
                rss_start = hub.rss_kib()
                started = time.monotonic()
                while len(idle) < args.idle_max and time.monotonic() - started < args.idle_seconds:
                    try:
                        idle += await open_sockets(hub, tokens, IDLE_STEP)
                    except (OSError, TimeoutError) as exc:
                        print(f"  stopped opening idle sockets at {len(idle)}: {exc}")
                        break
                per_conn = (hub.rss_kib() - rss_start) / max(1, len(idle))
                print(
                    f"idle sockets held by one process: {len(idle)} (bounded by --idle-max {args.idle_max});",
                    end="",
                )
                print(f" {per_conn:.1f} KiB RSS per connection")
                print(f"(RSS before the loaded sockets: {rss_before} KiB)")
                for ws in idle:
                    await ws.close()
        finally:
            hub.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--shipments", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-max", type=int, default=8000)
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--quick", action="store_true")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.rate, parsed.seconds, parsed.sockets, parsed.shipments, parsed.runs, parsed.idle_max = (
            100,
            2,
            200,
            20,
            1,
            1000,
        )
    asyncio.run(main(parsed))
