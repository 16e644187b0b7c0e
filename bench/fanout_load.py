"""The load side of bench/fanout.py: socket-holding processes, and reading servers' CPU and memory.

The sockets live in ``--readers`` processes using the ``websockets`` asyncio client (its
frame parser is compiled), driven over pipes, so the load does not slow the servers it
measures more than it must; their CPU is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import re
import resource
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from websockets.asyncio.client import ClientConnection, connect

CONNECT_CONCURRENCY = 64
LAT_BASE = 30.0
LAT_UNIT = 1e-6
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
