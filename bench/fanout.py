"""The hub's live fan-out beside Nchan: frames per server CPU-second, memory per socket, latency.

One run measures, with the same sockets, rate and message size (every process on 127.0.0.1):

- **Nchan** (nginx's pub/sub module, Debian's ``libnginx-mod-nchan``): one nginx worker started
  here with a generated config; each socket subscribes by WebSocket to its own channel, and
  each message is published by HTTP POST. Skipped, with a message, where nginx or the module
  is absent;
- **the hub**: one ``hub serve`` against the embedded valkey; each socket subscribes to its own
  shipment by tracking token (``/v1/live``, or ``shipment-{token}`` on the Pusher-compatible
  ``/app/{key}``), and each event is appended to ``hub:events`` by the real append script
  (:class:`hub.streams.append.Store`), as the pipeline does.

Event ``n`` goes to channel / shipment ``n % sockets`` and carries ``n`` in the courier's
latitude, so a frame is matched to its publication. Nchan's message is the hub's native frame
for the same event, byte for byte. The load (publisher here, ``--readers`` processes holding
the sockets with the ``websockets`` asyncio client) is not counted. Figures per server:

- frames per server CPU-second: frames received / CPU time (``/proc/<pid>/stat``) the server
  processes spent from the first publication to the last frame (nginx: master and worker;
  the hub: the ``hub serve`` process; valkey's CPU is printed beside it);
- memory per idle subscribed socket: the servers' RSS growth from before the sockets opened
  to after they subscribed (settled), divided by the sockets;
- publish -> frame latency p50 / p99 / max (``CLOCK_MONOTONIC``, one clock for every process);
  a warm-up second at the full rate comes first and is not counted.

    .venv/bin/python bench/fanout.py                         # 2,000 sockets, 500 events/s, both protocols
    .venv/bin/python bench/fanout.py --protocol native --seconds 10
    .venv/bin/python bench/fanout.py --quick                 # 200 sockets, 100 events/s
    .venv/bin/python bench/fanout.py --no-nchan --profile /tmp/prof   # py-spy per server (pip install py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402
from hub.live import views  # noqa: E402
from hub.registry import merchants, shipments  # noqa: E402
from hub.settings import Settings  # noqa: E402
from hub.streams.append import Store  # noqa: E402

ADMIN = "bench-admin-token"
LAT_BASE = 30.0
LAT_UNIT = 1e-6
SETTLE_S = 2.0
DRAIN_TIMEOUT_S = 30.0
NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
_RUN = f"{os.getpid()}_{time.time_ns()}"


# ---- the load: socket-holding processes, servers' CPU and memory ---------------------------

CONNECT_CONCURRENCY = 64
# The courier's latitude: plain in native and Nchan frames, escaped inside Pusher's data string.
_LAT = re.compile(r'"lat\\?": (-?[0-9.]+)')
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(wanted, soft), hard), hard))


async def wait_http(url: str, method: str = "GET", timeout_s: float = 30.0) -> None:
    """Until the server at ``url`` answers (bounded by ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.request(method, url) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)  # polling a starting process, bounded by the deadline
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def latency_summary(sent: dict[int, int], received: list[tuple[int, int]]) -> tuple[float, float, float]:
    """p50, p99, max in ms of publish -> frame, for the frames matched to a publication."""
    values = [(at - sent[n]) / 1e6 for n, at in received if n in sent]
    if not values:
        return (float("nan"),) * 3  # type: ignore[return-value]
    return statistics.median(values), pct(values, 0.99), max(values)


# ---- one reader process --------------------------------------------------------------------


class _Sockets:
    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.indexes: set[int] = set()
        self.total = 0
        self.received: list[tuple[int, int]] = []

    async def open(self, urls: list[tuple[int, str, str]], total: int) -> str:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.total = total

        async def one(index: int, url: str, how: str) -> None:
            async with gate:
                ws = await connect(url, open_timeout=60, ping_interval=None, max_size=2**20, compression=None)
                kind, _, token = how.partition(":")
                if kind == "native":
                    await ws.send(json.dumps({"type": "subscribe", "tracking_token": token}))
                    for _ in range(2):  # subscribed, snapshot
                        await asyncio.wait_for(ws.recv(), 60)
                elif kind == "pusher":
                    await asyncio.wait_for(ws.recv(), 60)  # pusher:connection_established
                    channel = f"shipment-{token}"
                    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
                    reply = await asyncio.wait_for(ws.recv(), 60)
                    if "subscription_succeeded" not in str(reply):
                        raise RuntimeError(f"pusher subscribe refused: {reply!r}")
            self.sockets.append(ws)
            self.indexes.add(index)
            self.tasks.append(asyncio.create_task(self.read(ws)))

        results = await asyncio.gather(*(one(*u) for u in urls), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            return f"{len(errors)} sockets failed, e.g. {errors[0]!r}"
        response = self.sockets[0].response if self.sockets else None
        extensions = response.headers.get("Sec-WebSocket-Extensions") if response else None
        return f"negotiated extensions: {extensions or 'none'}"

    async def read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in ws:
                at = time.monotonic_ns()
                found = _LAT.search(message if isinstance(message, str) else message.decode())
                if found:
                    self.received.append((round((float(found.group(1)) - LAT_BASE) / LAT_UNIT), at))

    def expected(self, first: int, count: int) -> int:
        return sum(1 for n in range(first, first + count) if n % self.total in self.indexes)

    async def collect(self, first: int, count: int, timeout_s: float) -> list[tuple[int, int]]:
        expected = self.expected(first, count)
        deadline = time.monotonic() + timeout_s
        while len(self.received) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # frames still in flight; bounded by the deadline
        received, self.received = self.received, []
        return received

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for ws in self.sockets:
            ws.transport.abort()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sockets, self.tasks, self.indexes, self.received = [], [], set(), []


async def _loop(conn: Connection) -> None:
    sockets = _Sockets()
    loop = asyncio.get_running_loop()
    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            conn.send(await sockets.open(*argument))
        elif command == "clear":
            sockets.received = []
            gc.collect()
            gc.disable()  # a collection pause here would count as server latency
            conn.send(None)
        elif command == "collect":
            conn.send(await sockets.collect(*argument))
            gc.enable()
        elif command == "close_sockets":
            await sockets.close()
            conn.send(None)
        else:
            await sockets.close()
            conn.send(None)
            return


def _process(conn: Connection) -> None:
    raise_fd_limit(65536)
    uvloop.run(_loop(conn))


class Readers:
    """The socket-holding processes, driven over pipes; socket ``i`` lives in process ``i % count``."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_process, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    async def _ask(self, commands: list[tuple[str, Any]]) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, p.recv) for p in self.pipes)))

    async def open(self, urls: list[tuple[str, str]]) -> str:
        count = len(self.pipes)
        shares = [[(i, *u) for i, u in enumerate(urls) if i % count == p] for p in range(count)]
        answers = await self._ask([("open", (share, len(urls))) for share in shares])
        errors = [a for a in answers if "failed" in a]
        if errors:
            raise RuntimeError("; ".join(errors))
        return str(answers[0])

    async def clear(self) -> None:
        await self._ask([("clear", None)] * len(self.pipes))

    async def collect(self, first: int, count: int, timeout_s: float) -> list[tuple[int, int]]:
        parts = await self._ask([("collect", (first, count, timeout_s))] * len(self.pipes))
        return [pair for part in parts for pair in part]

    async def close_sockets(self) -> None:
        await self._ask([("close_sockets", None)] * len(self.pipes))

    async def stop(self) -> None:
        await self._ask([("stop", None)] * len(self.pipes))
        for process in self.processes:
            process.join(timeout=15)


# ---- the benchmark ------------------------------------------------------------------------


def event(shipment_id: str, merchant_id: str, n: int, run: str) -> dict[str, Any]:
    """A courier position for the shipment, ``n`` in its latitude."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "specversion": "1.0",
        "id": f"evt_fanout_{_RUN}_{run}_{n}",
        "source": "/providers/alopeyk",
        "type": "shipment.location_updated",
        "subject": f"shipments/{shipment_id}",
        "time": stamp,
        "datacontenttype": "application/json",
        "recordedtime": stamp,
        "partitionkey": shipment_id,
        "data": {
            "shipment_id": shipment_id,
            "merchant_id": merchant_id,
            "merchant_ref": None,
            "provider": "alopeyk",
            "provider_ref": str(n),
            "tracking_url": None,
            "status": "in_transit",
            "provider_status": {"code": "on_the_way", "description": "courier on the way"},
            "location": {"lat": round(LAT_BASE + n * LAT_UNIT, 6), "lng": 51.41},
            "courier": {"name": "Bench Courier", "phone": "+989121234567", "id": None},
            "eta": None,
            "stop": None,
            "channel": "webhook",
        },
    }


def native_frame(n: int) -> bytes:
    """The hub's native frame for event ``n`` (what Nchan publishes: the same size)."""
    sample = {**event("shp_000000000000aaaaaaaaaa", "mer_0000000000000000", n, "x"), "sequence": 12}
    sample["data"]["previous_status"] = "in_transit"
    body = {"type": "event", "offset": "1795432903083-12", "event": views.public_event(sample, False)}
    return json.dumps(body).encode()


class Publisher:
    """Publishes event ``n`` at ``start + n / rate``; remembers when each publication began."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.sent: dict[int, int] = {}
        self.errors = 0

    async def run(self, first: int, count: int, publish: Any) -> None:
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        for i in range(count):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.sent[first + i] = time.monotonic_ns()
            task = asyncio.create_task(self._one(publish, first + i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)

    async def _one(self, publish: Any, n: int) -> None:
        try:
            await publish(n)
        except Exception as exc:  # counted, the first one printed
            if not self.errors:
                print(f"publication {n} failed: {exc!r}", flush=True)
            self.errors += 1


def profile(pid: int, prefix: str, name: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the server while it is measured (``pip install py-spy``): collapsed stacks."""
    out = f"{prefix}-{name.replace(' ', '-')}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "-p", str(pid), "-f", "raw", "-o", out, "-r", "200", "--nonblocking"]
    return start(command)


def start(
    command: list[str], env: dict[str, str] | None = None, log: str | None = None
) -> subprocess.Popen[bytes]:
    """A server or tool process, its output discarded (or its stderr appended to ``log``)."""
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


async def measure(
    name: str,
    pids: Any,
    readers: Readers,
    urls: list[tuple[str, str]],
    publish: Any,
    args: argparse.Namespace,
    extra_cpu: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Open the sockets, measure their memory, publish (warm-up, then measured), read the figures."""
    rss_before = sum(rss_kib(p) for p in pids())
    print(f"{name}: {len(urls)} sockets subscribed, {await readers.open(urls)}", flush=True)
    await asyncio.sleep(SETTLE_S)  # the server settles (its own collector, buffers)
    rss_after = sum(rss_kib(p) for p in pids())
    per_socket_kib = (rss_after - rss_before) / len(urls)
    warmup = Publisher(args.rate)
    await warmup.run(10_000_000, int(args.rate), publish)  # one second, not counted
    await readers.collect(10_000_000, int(args.rate), DRAIN_TIMEOUT_S)
    await readers.clear()
    count = int(args.rate * args.seconds)
    publisher = Publisher(args.rate)
    profiler = profile(pids()[0], args.profile, name) if args.profile else None
    cpu_before = sum(cpu_s(p) for p in pids())
    extra_before = {k: cpu_s(p) for k, p in (extra_cpu or {}).items()}
    gc.collect()
    gc.disable()  # a collection pause in the publisher would count as server latency
    try:
        await publisher.run(0, count, publish)
        received = await readers.collect(0, count, DRAIN_TIMEOUT_S)
    finally:
        gc.enable()
    cpu = sum(cpu_s(p) for p in pids()) - cpu_before
    extra = {k: cpu_s(p) - extra_before[k] for k, p in (extra_cpu or {}).items()}
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        profiler.wait(timeout=60)
    await readers.close_sockets()
    lat = latency_summary(publisher.sent, received)
    return {
        "name": name,
        "frames": len(received),
        "expected": count,
        "publish_errors": publisher.errors,
        "cpu_s": cpu,
        "frames_per_cpu_s": len(received) / cpu if cpu else float("nan"),
        "kib_per_socket": per_socket_kib,
        "latency_ms": lat,
        "extra_cpu_s": extra,
    }


# ---- Nchan ---------------------------------------------------------------------------------

NGINX_CONF = """
load_module {module};
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/pub/(\\w+)$ {{ nchan_publisher http; nchan_channel_id $1; }}
    location ~ ^/sub/(\\w+)$ {{ nchan_subscriber websocket; nchan_channel_id $1; }}
  }}
}}
"""


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return found if found and NGINX_MODULE.exists() else None


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


async def run_nchan(args: argparse.Namespace, readers: Readers) -> dict[str, Any] | None:
    binary = nginx_binary()
    if binary is None:
        print(
            f"Nchan skipped: nginx or {NGINX_MODULE} not found "
            "(Debian: apt-get install nginx-light libnginx-mod-nchan)"
        )
        return None
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nchan-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(module=NGINX_MODULE, tmp=tmp, port=port))
        process = start([binary, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"])
        try:
            await wait_http(f"http://127.0.0.1:{port}/pub/warm", method="POST")
            pids = lambda: [process.pid, *children(process.pid)]  # noqa: E731
            urls = [(f"ws://127.0.0.1:{port}/sub/c{i}", "nchan") for i in range(args.sockets)]
            connector = aiohttp.TCPConnector(limit=32)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def publish(n: int) -> None:
                    url = f"http://127.0.0.1:{port}/pub/c{n % args.sockets}"
                    async with http.post(url, data=native_frame(n)) as response:
                        await response.read()
                        if response.status >= 300:
                            raise RuntimeError(f"nchan publish {response.status}")

                return await measure("Nchan", pids, readers, urls, publish, args)
        finally:
            process.terminate()
            process.wait(timeout=15)


# ---- the hub -------------------------------------------------------------------------------


async def register(redis: Redis, count: int) -> tuple[str, list[tuple[str, str]]]:
    """A merchant and ``count`` shipments: (merchant id, [(shipment id, tracking token)])."""
    created = await merchants.create(redis, "bench-fanout")
    merchant_id = created.merchant.id
    registered = []
    for i in range(count):
        shipment, _ = await shipments.register(redis, merchant_id, "alopeyk", f"fanout-{i}")
        registered.append((shipment.id, shipment.tracking_token))
    return merchant_id, registered


async def run_hub(
    protocol: str,
    args: argparse.Namespace,
    readers: Readers,
    redis_server: EmbeddedRedis,
    merchant_id: str,
    registered: list[tuple[str, str]],
) -> dict[str, Any]:
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    settings = Settings.from_env().replace(redis_url=redis_server.url)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_server.url,
        "HUB_ADMIN_TOKEN": ADMIN,
        "HUB_LIVE_MAX_PER_IP": "1000000",
        "HUB_LIVE_MAX_PER_MERCHANT": "1000000",
        "HUB_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "hub", "serve", "--port", str(port)]
    process = start(command, env, args.log)
    store = Store(redis, settings)
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        if protocol == "native":
            urls = [(f"ws://127.0.0.1:{port}/v1/live", f"native:{t}") for _, t in registered]
        else:
            urls = [(f"ws://127.0.0.1:{port}/app/hub?protocol=7", f"pusher:{t}") for _, t in registered]

        async def publish(n: int) -> None:
            shipment_id = registered[n % len(registered)][0]
            await store.append([event(shipment_id, merchant_id, n, protocol)])  # type: ignore[list-item]

        extra = {"valkey": redis_server.process.pid} if redis_server.process else {}
        return await measure(f"hub {protocol}", lambda: [process.pid], readers, urls, publish, args, extra)
    finally:
        process.terminate()
        process.wait(timeout=15)
        await redis.aclose()


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.sockets} sockets, one channel each, {args.rate:g} events/s for {args.seconds:g} s")
    print(f"message: {len(native_frame(1234))} bytes (the hub's native frame; Nchan publishes the same)")
    head = f"{'server':<12} {'frames':>11} {'CPU s':>7} {'frames/CPU-s':>13} {'KiB/socket':>11}"
    print(head + "  publish->frame p50 / p99 / max ms")
    for r in results:
        lat = r["latency_ms"]
        extra = ", ".join(f"{k} {v:.2f} CPU s" for k, v in r["extra_cpu_s"].items())
        print(
            f"{r['name']:<12} {r['frames']:>5}/{r['expected']:<5} {r['cpu_s']:>7.2f} "
            f"{r['frames_per_cpu_s']:>13,.0f} {r['kib_per_socket']:>11.1f}  "
            f"{lat[0]:.2f} / {lat[1]:.2f} / {lat[2]:.2f}"
            + (f"   ({extra})" if extra else "")
            + (f"   publish errors {r['publish_errors']}" if r["publish_errors"] else "")
        )
    nchan = next((r for r in results if r["name"] == "Nchan"), None)
    if nchan is None:
        return
    for r in results:
        if r is nchan:
            continue
        print(
            f"{r['name']} / Nchan: frames per CPU-second "
            f"{r['frames_per_cpu_s'] / nchan['frames_per_cpu_s']:.0%}"
            f" (target >= 50%), memory per socket {r['kib_per_socket'] / nchan['kib_per_socket']:.2f} x"
            f" ({r['kib_per_socket']:.1f} KiB, target <= 16), p99 {r['latency_ms'][1]:.2f} ms (target <= 5)"
        )


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit(args.sockets * 2 + 1000)
    protocols = ["native", "pusher"] if args.protocol == "both" else [args.protocol]
    readers = Readers(args.readers)
    results = []
    try:
        if not args.no_nchan:
            nchan = await run_nchan(args, readers)
            if nchan:
                results.append(nchan)
        with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
            redis_server = EmbeddedRedis(Path(tmp)).start()
            try:
                redis = Redis.from_url(redis_server.url, decode_responses=True)
                merchant_id, registered = await register(redis, args.sockets)
                await redis.aclose()
                for protocol in protocols:
                    result = await run_hub(protocol, args, readers, redis_server, merchant_id, registered)
                    results.append(result)
            finally:
                redis_server.stop()
    finally:
        await readers.stop()
    report(results, args)


def parse() -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--sockets", type=int, default=2000, help="sockets, each on its own channel")
    parser.add_argument("--rate", type=float, default=500, help="events per second")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds of publishing")
    parser.add_argument("--protocol", choices=["native", "pusher", "both"], default="both")
    parser.add_argument("--readers", type=int, default=2, help="processes holding the sockets")
    parser.add_argument("--no-nchan", action="store_true", help="measure the hub only")
    parser.add_argument("--log", help="append hub serve's log here")
    parser.add_argument("--profile", help="py-spy each server while measured: PREFIX-<server>.txt")
    parser.add_argument("--quick", action="store_true", help="200 sockets, 100 events/s, 3 s")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.sockets, parsed.rate, parsed.seconds = 200, 100, 3
    if parsed.sockets < 1 or parsed.sockets > 20_000 or parsed.rate <= 0 or not 0 < parsed.seconds <= 120:
        parser.error("sockets 1-20000, rate > 0, seconds 0-120")
    return parsed


if __name__ == "__main__":
    uvloop.run(main(parse()))
