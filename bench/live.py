"""Live fan-out benchmark: webhook POST -> WebSocket receipt latency, and idle sockets per process.

Topology (every process on 127.0.0.1, uvloop everywhere, as ``hub serve`` runs):

- one embedded Redis-protocol server;
- a **receiver** ``hub serve`` that takes the Alopeyk webhook POSTs (append to ``hub:inbox``),
  and one ``hub normalizer`` that turns the inbox into events;
- a **live** ``hub serve`` that holds every subscribed socket (its one ``XREAD`` loop fans
  ``hub:events`` out to them); every process fans out, so ingest and sockets can be split;
- the load: this process POSTs at a fixed rate (32 keep-alive connections, requests written
  as bytes, answers read by httptools) and taps ``hub:events`` itself; ``--readers``
  processes hold the sockets (aiohttp) and timestamp every frame. The load shares the two
  cores with the hub, so it is kept lean, and its collector is off while it measures.

Latency is ``time.monotonic_ns()`` (CLOCK_MONOTONIC, one clock for every process on the
host) from just before a POST to a frame's arrival. Each event carries its number in the
courier's latitude, so a frame is matched to its POST without a shared table. The same run
measures two baselines: the stream append (POST -> the entry read from ``hub:events`` by
this process, no WebSocket) under the same load, and one socket at 20 events/s. A warm-up
run at the full load comes first and is not counted; every figure is the median of
``--runs`` runs. Clients offer per-message deflate as browsers do; the hub declines it
unless ``HUB_LIVE_COMPRESSION`` is set.

    .venv/bin/python bench/live.py            # 2,000 sockets over 200 shipments, 500 events/s
    .venv/bin/python bench/live.py --shipments 2000   # one socket per shipment
    .venv/bin/python bench/live.py --inline   # HUB_RECEIVE_INLINE=true: no inbox, no normalizer
    .venv/bin/python bench/live.py --quick    # 200 sockets, 100 events/s
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httptools
import uvloop
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import keys  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402

ADMIN = "bench-admin-token"
FIXTURE = json.loads((ROOT / "tests/fixtures/alopeyk/webhook_accepted.json").read_text())
CONNECT_CONCURRENCY = 50
POST_CONNECTIONS = 32
DRAIN_TIMEOUT_S = 30.0
IDLE_STEP = 1000
LAT_BASE = 30.0
LAT_UNIT = 1e-6  # event number n travels as latitude LAT_BASE + n * LAT_UNIT
RUN_EVENTS = 100_000  # event numbers of run r start at r * RUN_EVENTS
LIGHT_RATE, LIGHT_SECONDS = 20, 2.0


def webhook(order_id: int, number: int | None = None) -> bytes:
    order = {**FIXTURE["order"], "id": order_id}
    if number is not None:
        lat = round(LAT_BASE + number * LAT_UNIT, 6)
        order["last_position_minimal"] = {"lat": lat, "lng": 51.41, "updated_at": "2017-09-12 18:59:00"}
    return json.dumps({**FIXTURE, "order": order}).encode()


# The loaded runs fill in a template rather than serialize the whole order per POST: the
# load generator shares the two cores with the hub, so its CPU per event is kept small.
_POSITION_TEMPLATE = (
    webhook(7_777_777, 0)
    .replace(b"%", b"%%")
    .replace(b"7777777", b"%(order)d")
    .replace(b"30.0,", b"%(lat).6f,")
)


def position_webhook(order_id: int, number: int) -> bytes:
    return _POSITION_TEMPLATE % {b"order": order_id, b"lat": LAT_BASE + number * LAT_UNIT}


# The courier's latitude is the first "lat" of an event frame (the location precedes stops).
_EVENT_FRAME = ('{"type":"event"', '{"type": "event"')
_LAT = re.compile(r'"lat": ?(-?[0-9.]+)')  # the hub's frames are compact JSON


def number_of(event: dict[str, Any]) -> int | None:
    location = event["data"].get("location")
    return round((location["lat"] - LAT_BASE) / LAT_UNIT) if location else None


class Hub:
    """One ``hub serve`` process (or, with ``command``, another hub process)."""

    def __init__(
        self, redis_url: str, workers: int = 1, command: tuple[str, ...] = (), inline: bool = False
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HUB_REDIS_URL": redis_url,
            "HUB_ADMIN_TOKEN": ADMIN,
            "HUB_LIVE_MAX_PER_IP": "1000000",
            "HUB_LIVE_MAX_PER_MERCHANT": "1000000",
            "HUB_LOG_LEVEL": "warning",  # no access log line per POST, as in bench/ingest.py
            "HUB_RECEIVE_INLINE": "true" if inline else "false",
        }
        log_path = os.environ.get("HUB_BENCH_LOG")  # set it to keep the servers' logs
        command = command or ("serve", "--port", str(self.port), "--workers", str(workers))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(log_path, "ab") if log_path else subprocess.DEVNULL,  # noqa: SIM115
        )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # polling a starting process, bounded by the deadline
        raise RuntimeError("hub serve did not start")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


class Reader:
    """Sockets of one load process (aiohttp: its frame reader is compiled); ``received`` collects
    ``(event number, monotonic ns)``. Sockets offer per-message deflate, as browsers do."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.received: list[tuple[int, int]] = []
        self.closed = 0

    async def open(self, tokens: list[str]) -> str | None:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0)
            self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))
        session, gate = self.session, asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(token: str) -> None:
            async with gate:
                ws = await session.ws_connect(self.url, compress=15, autoping=True)
                await ws.send_str(json.dumps({"type": "subscribe", "tracking_token": token}))
                for _ in range(2):  # subscribed, snapshot
                    await ws.receive_str(timeout=30)
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self.read(ws)))

        results = await asyncio.gather(*(one(t) for t in tokens), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        return f"{len(errors)} failed, e.g. {errors[0]!r}" if errors else None

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            at = time.monotonic_ns()
            if message.type is aiohttp.WSMsgType.TEXT and message.data.startswith(_EVENT_FRAME):
                found = _LAT.search(message.data)
                if found:
                    self.received.append((round((float(found.group(1)) - LAT_BASE) / LAT_UNIT), at))
        self.closed += 1

    async def collect(self, expected: int, timeout_s: float) -> list[tuple[int, int]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # frames still in flight; bounded by the deadline
        received, self.received = self.received, []
        return received

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        if self.session is not None:
            await self.session.close()


async def _reader_loop(conn: Connection, url: str) -> None:
    reader = Reader(url)
    loop = asyncio.get_running_loop()
    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            conn.send((await reader.open(argument), len(reader.sockets), reader.closed))
        elif command == "clear":
            reader.received = []
            gc.collect()
            gc.disable()  # a collection pause here would count as hub latency
            conn.send(None)
        elif command == "collect":
            conn.send(await reader.collect(*argument))
            gc.enable()
        else:
            await reader.close()
            conn.send(None)
            return


def reader_process(conn: Connection, url: str) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(_reader_loop(conn, url))


class Readers:
    """The reader processes, driven over pipes."""

    def __init__(self, count: int, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=reader_process, args=(child, url), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    async def ask(self, commands: list[tuple[str, Any]]) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, p.recv) for p in self.pipes)))

    async def close(self) -> None:
        await self.ask([("close", None)] * len(self.pipes))
        for process in self.processes:
            process.join(timeout=15)


# ---- the load ---------------------------------------------------------------------------------


class PostConnection(asyncio.Protocol):
    """One keep-alive connection for the load's POSTs: the request bytes are written as they
    are, and httptools (uvicorn's C parser) reads the answers. aiohttp's client spent 0.6 ms
    of CPU per POST, CPU the hub it measures needs on a 2-core machine."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.in_flight = 0
        self.errors = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.errors += self.parser.get_status_code() >= 300
        self.in_flight -= 1
        if not self.in_flight:
            self.idle.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.errors += self.in_flight
        self.in_flight = 0
        self.idle.set()


class Load:
    def __init__(self, redis: Redis, post_url: str, live_url: str, orders: list[int]) -> None:
        self.redis = redis
        self.post_url = aiohttp.client.URL(post_url)
        self.live_url = live_url
        self.orders = orders
        self.connections: list[tuple[asyncio.Transport, PostConnection]] = []
        self.errors_before = 0  # of connections since closed

    @property
    def errors(self) -> int:
        return self.errors_before + sum(connection.errors for _, connection in self.connections)

    async def connect(self, count: int) -> None:
        """Open ``count`` connections, replacing those the server closed (uvicorn: after 5 s idle)."""
        loop = asyncio.get_running_loop()
        self.errors_before += sum(c.errors for t, c in self.connections if t.is_closing())
        self.connections = [pair for pair in self.connections if not pair[0].is_closing()]
        while len(self.connections) < count:
            host, port = self.post_url.host, self.post_url.port
            self.connections.append(await loop.create_connection(PostConnection, host, port))

    def request(self, order_id: int, number: int) -> bytes:
        body = position_webhook(order_id, number)
        head = (
            f"POST {self.post_url.path} HTTP/1.1\r\nHost: {self.post_url.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def post_at_rate(self, first: int, count: int, rate: float, orders: list[int]) -> dict[int, int]:
        """POST ``count`` position webhooks at ``rate``/s; the monotonic ns each was sent at."""
        sent: dict[int, int] = {}
        await self.connect(POST_CONNECTIONS)
        start = time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load, not synchronizing
            transport, connection = self.connections[i % len(self.connections)]  # none idles 5 s
            request = self.request(orders[i % len(orders)], first + i)
            sent[first + i] = time.monotonic_ns()
            connection.in_flight += 1
            connection.idle.clear()
            transport.write(request)
        answered = asyncio.gather(*(connection.idle.wait() for _, connection in self.connections))
        await asyncio.wait_for(answered, DRAIN_TIMEOUT_S)
        return sent

    def close(self) -> None:
        for transport, _ in self.connections:
            transport.close()

    async def tap(self, after: str, until: int, received: dict[int, int]) -> None:
        """Read ``hub:events`` as the live reader does, timestamping each entry: the stream baseline."""
        while until not in received:
            reply = await self.redis.xread({keys.EVENTS: after}, block=1000, count=1000)
            now = time.monotonic_ns()
            for _, entries in reply:
                for entry_id, fields in entries:
                    after = entry_id
                    number = number_of(json.loads(fields["event"]))
                    if number is not None:
                        received[number] = now


def cpu_s(pid: int, with_children: bool = False) -> float:
    """User + system CPU seconds of a process (and, for ``hub serve --workers``, its workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat") if with_children else ():
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class CpuMeter:
    """CPU spent per event by each part during a loaded run: where the two cores went."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts
        self.runs: dict[str, list[float]] = {name: [] for name in parts}

    def sample(self) -> dict[str, float]:
        return {
            name: sum(cpu_s(pid, name == "receiver") for pid in pids) for name, pids in self.parts.items()
        }

    def record(self, before: dict[str, float], events: int) -> None:
        after = self.sample()
        for name in self.parts:
            self.runs[name].append((after[name] - before[name]) * 1000 / events)

    def summary(self) -> str:
        return ", ".join(f"{name} {statistics.median(ms):.2f} ms" for name, ms in self.runs.items())


def latencies_ms(sent: dict[int, int], received: list[tuple[int, int]]) -> list[float]:
    return [(at - sent[n]) / 1e6 for n, at in received if n in sent]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def p50_p99(values: list[float]) -> tuple[float, float]:
    return pct(values, 0.5), pct(values, 0.99)


def _ms(pair: tuple[float, float]) -> str:
    return f"p50 {pair[0]:.1f} ms, p99 {pair[1]:.1f} ms"


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


async def setup(http: aiohttp.ClientSession, hub: Hub, shipments: int) -> tuple[str, list[int], list[str]]:
    """A merchant and its shipments; the receiver path and every shipment's tracking token."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with http.post(f"{hub.url}/v1/merchants", json={"name": "bench"}, headers=admin) as response:
        merchant = await response.json()
    post_url = f"{hub.url}{aiohttp.client.URL(merchant['alopeyk_webhook_url']).path}"
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    orders = list(range(500_000, 500_000 + shipments))
    tokens = []
    for order_id in orders:
        registration = {"provider": "alopeyk", "provider_ref": str(order_id)}
        async with http.post(f"{hub.url}/v1/shipments", json=registration, headers=auth) as response:
            tokens.append((await response.json())["tracking_token"])
    return post_url, orders, tokens


def expected_frames(args: argparse.Namespace, seconds: float) -> list[int]:
    """Frames each reader process should receive: socket i watches shipment i % shipments."""
    count = int(args.rate * seconds)
    per_order = [len(range(j, count, args.shipments)) for j in range(args.shipments)]
    return [sum(per_order[i % args.shipments] for i in part) for part in socket_shares(args)]


def socket_shares(args: argparse.Namespace) -> list[range]:
    return [range(k, args.sockets, args.readers) for k in range(args.readers)]


async def loaded_run(
    load: Load, readers: Readers, run: int, args: argparse.Namespace, seconds: float
) -> tuple[list[float], list[float], int]:
    """Hub latencies, stream-append latencies and receipts missing, for one run at the full load."""
    count = int(args.rate * seconds)
    expected = expected_frames(args, seconds)
    first = run * RUN_EVENTS
    await readers.ask([("clear", None)] * len(expected))
    latest = await load.redis.xrevrange(keys.EVENTS, count=1)
    appended: dict[int, int] = {}
    tap = asyncio.create_task(load.tap(latest[0][0] if latest else "0-0", first + count - 1, appended))
    gc.collect()
    gc.disable()  # the load generator's own collection pauses would count as hub latency
    try:
        sent = await load.post_at_rate(first, count, args.rate, load.orders)
        received = await readers.ask([("collect", (n, DRAIN_TIMEOUT_S)) for n in expected])
        await asyncio.wait_for(tap, DRAIN_TIMEOUT_S)
    finally:
        gc.enable()
    frames = [r for part in received for r in part]
    return latencies_ms(sent, frames), latencies_ms(sent, list(appended.items())), sum(expected) - len(frames)


async def light_run(load: Load, token: str, run: int) -> list[float]:
    """The unloaded baseline: one socket, one shipment, 20 events/s."""
    reader = Reader(load.live_url)
    await reader.open([token])
    count = int(LIGHT_RATE * LIGHT_SECONDS)
    first = run * RUN_EVENTS + RUN_EVENTS // 2
    sent = await load.post_at_rate(first, count, LIGHT_RATE, load.orders[:1])
    received = await reader.collect(count, DRAIN_TIMEOUT_S)
    await reader.close()
    return latencies_ms(sent, received)


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded:
        receiver, live = Hub(embedded.url, args.receiver_workers, inline=args.inline), Hub(embedded.url)
        normalizer = None if args.inline else Hub(embedded.url, command=("normalizer",))
        live_url = f"ws://127.0.0.1:{live.port}/v1/live"
        readers = Readers(args.readers, live_url)
        redis = Redis.from_url(embedded.url, decode_responses=True)
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                await receiver.ready(http)
                await live.ready(http)
                post_url, orders, tokens = await setup(http, receiver, args.shipments)
                load = Load(redis, post_url, live_url, orders)
                count = int(args.rate * args.seconds)
                rss_before = live.rss_kib()
                opened = await readers.ask(
                    [("open", [tokens[i % len(tokens)] for i in p]) for p in socket_shares(args)]
                )
                print(f"opened {sum(o[1] for o in opened)} sockets ({[o[0] for o in opened if o[0]]})")
                print(
                    f"{args.sockets} sockets over {args.shipments} shipments, {args.rate} events/s for",
                    end="",
                )
                print(f" {args.seconds} s ({args.readers} reader processes); {args.runs} runs", end="")
                print("; receiver inline (no inbox, no normalizer)" if args.inline else "")
                hub_runs, stream_runs, light_runs = [], [], []
                cpu = CpuMeter(
                    {
                        "receiver": [receiver.process.pid],
                        "normalizer": [normalizer.process.pid] if normalizer else [],
                        "live": [live.process.pid],
                        "poster": [os.getpid()],
                        "readers": [p.pid for p in readers.processes if p.pid],
                        "redis": [embedded.process.pid],
                    }
                )
                # Warm-up, not counted: pools and caches fill, and every shipment has its first
                # webhook (which also carries the order's status history) behind it.
                warmup_s = max(args.warmup_seconds, args.shipments / args.rate)
                await loaded_run(load, readers, args.runs, args, warmup_s)
                for run in range(args.runs):
                    light = await light_run(load, tokens[0], run)
                    before = cpu.sample()
                    hub_ms, stream_ms, missing = await loaded_run(load, readers, run, args, args.seconds)
                    cpu.record(before, count)
                    hub_runs.append(p50_p99(hub_ms))
                    stream_runs.append(p50_p99(stream_ms))
                    light_runs.append(p50_p99(light))
                    print(
                        f"  run {run}: hub {_ms(hub_runs[-1])} ({len(hub_ms)} frames, {missing} missing)"
                        f" | stream append {_ms(stream_runs[-1])} | 1 socket at {LIGHT_RATE}/s"
                        f" {_ms(light_runs[-1])} | POST errors so far {load.errors}"
                    )
                print(f"median of {args.runs} runs:")
                print(
                    f"  hub, POST -> frame, {args.sockets} sockets, {args.rate}/s: {_ms(_median(hub_runs))}"
                )
                print(
                    f"  baseline, POST -> entry read from hub:events, same load: {_ms(_median(stream_runs))}"
                )
                print(f"  baseline, 1 socket at {LIGHT_RATE} events/s: {_ms(_median(light_runs))}")
                print(f"  CPU per event: {cpu.summary()} (2 cores: {2000 / args.rate:.1f} ms per event)")

                rss_start, held = live.rss_kib(), args.sockets
                started = time.monotonic()
                while held < args.idle_max and time.monotonic() - started < args.idle_seconds:
                    step = min(IDLE_STEP, args.idle_max - held)
                    parts = [range(k, step, args.readers) for k in range(args.readers)]
                    replies = await readers.ask(
                        [("open", [tokens[i % len(tokens)] for i in p]) for p in parts]
                    )
                    held = sum(r[1] for r in replies)
                    failed = [r[0] for r in replies if r[0]]
                    if failed:
                        print(f"  stopped opening idle sockets at {held}: {failed}")
                        break
                added = held - args.sockets
                per_conn = (live.rss_kib() - rss_start) / max(1, added)
                print(
                    f"idle sockets held by one process: {held} (bounded by --idle-max {args.idle_max},"
                    f" --idle-seconds {args.idle_seconds}); {per_conn:.1f} KiB RSS per connection"
                    f" (RSS {rss_before} KiB before any socket)"
                )
                load.close()
        finally:
            await readers.close()
            await redis.aclose()
            receiver.stop()
            if normalizer:
                normalizer.stop()
            live.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--shipments", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=2,
        help="a first loaded run, not counted (long enough for one event per shipment)",
    )
    parser.add_argument("--readers", type=int, default=2, help="load processes holding the sockets")
    parser.add_argument("--receiver-workers", type=int, default=1, help="uvicorn workers taking the POSTs")
    parser.add_argument("--idle-max", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument(
        "--inline",
        action="store_true",
        help="HUB_RECEIVE_INLINE=true: the receiver appends events itself",
    )
    parser.add_argument("--quick", action="store_true")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.rate, parsed.seconds, parsed.sockets, parsed.shipments, parsed.idle_max = 100, 2, 200, 20, 1000
    uvloop.run(main(parsed))
