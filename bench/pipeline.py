"""CPU per webhook through the whole pipeline, per process, beside a baseline git ref in the same run.

Topology (every process on 127.0.0.1, started from the tree under test with this ``.venv``):
a receiver ``hub serve`` takes Alopeyk webhook POSTs (append to ``hub:inbox``), ``hub
normalizer`` turns them into events, ``hub dispatcher`` turns the events into deliveries and
``hub worker`` sends them to a sink in this process, which counts them. No socket watches
``hub:events`` (the live fan-out's share is ``bench/live.py``'s and ``bench/fanout.py``'s).

A run POSTs ``--rate`` position webhooks a second for ``--seconds`` (each a new event for one of
``--shipments`` orders), waits until every event they made has been delivered, and reads each
process's user + system CPU from ``/proc/<pid>/stat`` before and after: CPU-ms per webhook per
process. With ``--baseline-ref`` the same runs go, alternately, against a ``git worktree`` of
that ref (say ``main``, or the commit the work started from), so both sets of figures come
from the same machine at the same time; the ratio current / baseline is printed per process.

    .venv/bin/python bench/pipeline.py [--baseline-ref d0c7076] [--runs 3] [--rate 400] [--seconds 5]
                                       [--profile PREFIX]

With ``--profile PREFIX`` py-spy samples each process of this checkout through the measured runs
(``pip install py-spy``) and writes collapsed stacks to ``PREFIX-<process>.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httptools
import uvloop
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live import Load, cpu_s  # noqa: E402
from hub import keys  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402

ADMIN = "bench-admin-token"
PROCESSES = ("receiver", "normalizer", "dispatcher", "worker")
WAIT_LIMIT_S = 90.0
RUN_EVENTS = 100_000


class Sink(asyncio.Protocol):
    """The merchant's webhook receiver: counts POSTs in ``counter[0]`` and answers 204, keep-alive."""

    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.counter[0] += 1
        self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")


class Pipeline:
    """The four hub processes of one source tree."""

    def __init__(self, tree: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "HUB_REDIS_URL": redis_url,
            "HUB_ADMIN_TOKEN": ADMIN,
            "HUB_LOG_LEVEL": "warning",
            "HUB_RECEIVE_INLINE": "false",
            "HUB_WEBHOOK_ALLOW_HTTP": "1",
            "HUB_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        }
        log = os.environ.get("HUB_BENCH_LOG")
        commands = {
            "receiver": ("serve", "--port", str(self.port)),
            "normalizer": ("normalizer",),
            "dispatcher": ("dispatcher",),
            "worker": ("worker",),
        }
        self.processes = {
            name: subprocess.Popen(
                [sys.executable, "-m", "hub", *command],
                env=env,
                cwd=tree,
                stdout=subprocess.DEVNULL,
                stderr=open(log, "ab") if log else subprocess.DEVNULL,  # noqa: SIM115
            )
            for name, command in commands.items()
        }

    def cpu(self) -> dict[str, float]:
        return {name: cpu_s(process.pid, with_children=True) for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=30)


async def _ready(http: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)  # polling a starting process, bounded by the deadline
    raise SystemExit("hub serve did not start")


async def _setup(
    http: aiohttp.ClientSession, url: str, shipments: int, sink_url: str
) -> tuple[str, list[int]]:
    """A merchant with one webhook endpoint (every event) and ``shipments`` registered orders."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with http.post(f"{url}/v1/merchants", json={"name": "bench"}, headers=admin) as response:
        merchant = await response.json()
    auth = {"Authorization": f"Bearer {merchant['api_key']}"}
    async with http.post(f"{url}/v1/webhooks/endpoints", json={"url": sink_url}, headers=auth) as response:
        if response.status != 201:
            raise SystemExit(f"creating the endpoint: {response.status} {await response.text()}")
    orders = list(range(500_000, 500_000 + shipments))
    for order_id in orders:
        registration = {"provider": "alopeyk", "provider_ref": str(order_id)}
        async with http.post(f"{url}/v1/shipments", json=registration, headers=auth) as response:
            response.raise_for_status()
    return f"{url}{aiohttp.client.URL(merchant['alopeyk_webhook_url']).path}", orders


async def _settled(
    redis: Redis, received: list[int], events_before: int, delivered_before: int
) -> tuple[int, int]:
    """Wait until the inbox is empty and every event appended since has reached the sink."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while await redis.xlen(keys.INBOX) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # the normalizer's lag, bounded by the deadline
    events = await redis.xlen(keys.EVENTS) - events_before
    while received[0] - delivered_before < events and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # deliveries in flight, bounded by the deadline
    return events, received[0] - delivered_before


async def _run(
    load: Load, redis: Redis, pipeline: Pipeline, first: int, args: argparse.Namespace, received: list[int]
) -> dict[str, float]:
    """One loaded run: CPU-ms per webhook of each process (and events, deliveries per webhook)."""
    count = int(args.rate * args.seconds)
    events_before, delivered_before = await redis.xlen(keys.EVENTS), received[0]
    before, calls_before = pipeline.cpu(), await _calls(redis)
    await load.post_at_rate(first, count, args.rate, load.orders)
    events, delivered = await _settled(redis, received, events_before, delivered_before)
    after, calls_after = pipeline.cpu(), await _calls(redis)
    figures = {name: (after[name] - before[name]) * 1000 / count for name in PROCESSES}
    figures["total"] = sum(figures[name] for name in PROCESSES)
    figures["events"], figures["delivered"] = events / count, delivered / count
    for command, calls in calls_after.items():
        figures[f"redis {command}"] = (calls - calls_before.get(command, 0)) / count
    return figures


async def _calls(redis: Redis) -> dict[str, int]:
    """Calls of each Redis command so far (``INFO commandstats``): round trips the pipeline makes."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


@contextlib.contextmanager
def _tree(ref: str | None) -> Iterator[Path]:
    """This checkout, or a temporary ``git worktree`` of ``ref``."""
    if ref is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


@contextlib.asynccontextmanager
async def _started(tree: Path, args: argparse.Namespace) -> AsyncIterator[Callable[[int], Any]]:
    """``tree``'s pipeline on a fresh Redis and sink, warmed up; yields a function measuring one run."""
    received = [0]
    sink_port = free_port()
    sink = await asyncio.get_running_loop().create_server(lambda: Sink(received), "127.0.0.1", sink_port)
    sink_url = f"http://127.0.0.1:{sink_port}/hook"
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded:
        pipeline = Pipeline(tree, embedded.url)
        redis = Redis.from_url(embedded.url, decode_responses=True)
        load: Load | None = None
        spies: list[subprocess.Popen[bytes]] = []
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                await _ready(http, pipeline.url)
                post_url, orders = await _setup(http, pipeline.url, args.shipments, sink_url)
            load = Load(redis, post_url, "", orders)
            # Warm-up, not counted: every shipment's first webhook (it carries the order's history).
            warmup = argparse.Namespace(**{**vars(args), "seconds": max(1.0, args.shipments / args.rate)})
            await _run(load, redis, pipeline, 0, warmup, received)
            if args.profile and tree == ROOT:
                spies = [_profile(p.pid, f"{args.profile}-{name}") for name, p in pipeline.processes.items()]
            yield lambda run: _run(load, redis, pipeline, run * RUN_EVENTS, args, received)
            if load.errors:
                print(f"  {tree}: {load.errors} POSTs were not answered 2xx")
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                spy.wait(timeout=60)
            if load is not None:
                load.close()
            await redis.aclose()
            pipeline.stop()
            sink.close()


def _profile(pid: int, prefix: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "-p", str(pid), "-f", "raw", "-o", f"{prefix}.txt", "-r", "200"]
    command.append("--nonblocking")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _row(figures: dict[str, float]) -> str:
    cpu = ", ".join(f"{name} {figures[name]:.3f}" for name in (*PROCESSES, "total"))
    each = f"{figures['events']:.2f} events, {figures['delivered']:.2f} deliveries each"
    commands = sorted(
        (
            (value, name.removeprefix("redis "))
            for name, value in figures.items()
            if name.startswith("redis ")
        ),
        reverse=True,
    )
    total = sum(value for value, _ in commands)
    top = ", ".join(
        f"{name} {value:.2f}"
        for value, name in commands[: int(os.environ.get("BENCH_TOP_COMMANDS", "8"))]
        if value >= 0.01
    )
    return f"CPU-ms per webhook: {cpu}; {each}; Redis commands per webhook {total:.1f} ({top})"


def _median(runs: list[dict[str, float]], name: str) -> float:
    return statistics.median(run[name] for run in runs)


async def main(args: argparse.Namespace) -> None:
    print(
        f"{args.rate} webhooks/s for {args.seconds} s over {args.shipments} shipments, {args.runs} runs each"
    )
    trees = {"current": None} | ({"baseline": args.baseline_ref} if args.baseline_ref else {})
    results: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    with contextlib.ExitStack() as stack:
        paths = {label: stack.enter_context(_tree(ref)) for label, ref in trees.items()}
        async with contextlib.AsyncExitStack() as pipelines:
            measure = {
                label: await pipelines.enter_async_context(_started(path, args))
                for label, path in paths.items()
            }
            for run in range(1, args.runs + 1):  # alternately, so both see the machine alike
                for label, one_run in measure.items():
                    results[label].append(await one_run(run))
                    print(f"  {label} run {run}: " + _row(results[label][-1]), flush=True)
    header = f"{'process':<12}" + "".join(f"{label:>12}" for label in results)
    print(
        f"\nmedian CPU-ms per webhook ({len(results['current'])} runs each)\n{header}"
        + (f"{'ratio':>10}" if "baseline" in results else "")
    )
    for name in (*PROCESSES, "total"):
        values = [_median(runs, name) for runs in results.values()]
        ratio = f"{values[0] / values[1]:>10.0%}" if len(values) == 2 and values[1] else ""
        print(f"{name:<12}" + "".join(f"{v:>12.3f}" for v in values) + ratio)
    if "baseline" in results:
        print(f"(current / baseline {args.baseline_ref}; target for the total: at most 50%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-ref", help="a git ref to measure beside this checkout, e.g. main")
    parser.add_argument("--runs", type=int, default=5, help="loaded runs of each pipeline, alternately")
    parser.add_argument("--rate", type=int, default=400, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--shipments", type=int, default=200)
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy each process: PREFIX-<process>.txt")
    uvloop.run(main(parser.parse_args()))
