"""How fast one `hub pusher` process turns Pusher events into appended events, with 5,000 channels.

Starts an embedded Redis-protocol server, the Pusher/HLD emulator and one `hub pusher`
process (all on 127.0.0.1), registers 5,000 HLD shipments, waits until every channel
is subscribed, then triggers one status change per shipment through the real `pusher`
library and measures, per run:

* events/s from the first trigger until the last event is on ``hub:events``;
* p50/p99 delay from the trigger (the event's own time) to its ``hub:events`` entry;

and, as the baseline in the same run, events/s of ``Ingestor.ingest_raw`` called directly
(the normalize + append cost with no Pusher in between). Figures are medians of the runs.

    .venv/bin/python bench/hld_pusher.py [--shipments 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its name would hide the `pusher` library.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import pusher  # noqa: E402
import uvicorn  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import keys  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402
from hub.dev.emulators.pusher import PusherEmulator  # noqa: E402
from hub.ingest.pipeline import Ingestor  # noqa: E402
from hub.model.observation import Channel  # noqa: E402
from hub.registry import shipments  # noqa: E402
from hub.settings import Settings  # noqa: E402

APP_ID, KEY, SECRET = "1", "bench-key", "bench-secret"
RUN_TIMEOUT_S = 180.0
TRIGGER_THREADS = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis_server:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                PusherEmulator(APP_ID, KEY, SECRET).app, host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        _wait(lambda: server.started, 15, "the emulator")
        emulator_url = f"http://127.0.0.1:{port}"
        log_path = Path(tempfile.gettempdir()) / "bench-hub-pusher.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub", "pusher"],
                env=_env(redis_server.url, emulator_url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            asyncio.run(_bench(redis_server.url, emulator_url, port, args.shipments, args.runs))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"hub pusher did not stop on SIGTERM within 15 s; killed (log: {log_path})")
                process.kill()
                process.wait()
            server.should_exit = True
            thread.join(timeout=10)


def _env(redis_url: str, emulator_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HUB_REDIS_URL": redis_url,
        "HUB_HLD_PUSHER_KEY": KEY,
        "HUB_PUSHER_HOST": emulator_url.replace("http://", "ws://"),
        "HUB_HLD_BASE_URL": emulator_url,
    }


async def _bench(redis_url: str, emulator_url: str, port: int, count: int, runs: int) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True, max_connections=200)
    tokens = [f"bench{index:05d}" for index in range(count)]
    await _register(redis, tokens)
    client = pusher.Pusher(app_id=APP_ID, key=KEY, secret=SECRET, host="127.0.0.1", port=port, ssl=False)
    ingestor = Ingestor(redis, Settings.from_env({"HUB_REDIS_URL": redis_url}))
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=emulator_url, timeout=30) as control:
            await _until(lambda: _subscribed(control, count), RUN_TIMEOUT_S, "every channel subscribed")
        print(f"{count} channels subscribed in {time.monotonic() - started:.1f} s")
        await _until(lambda: _gapfilled(redis, count), RUN_TIMEOUT_S, "the initial gap-fills")
        print(f"... and gap-filled in {time.monotonic() - started:.1f} s")
        figures: dict[str, list[float]] = {}
        for run in range(runs):
            results = {
                "hub pusher events/s": await _burst(redis, client, tokens, BURST_CODES[run % 2]),
                "baseline events/s": await _direct_burst(redis, ingestor, count, run),
            }
            p50, p99 = await _paced(redis, client, tokens[:PACED_EVENTS], PACED_CODE)
            base_p50, base_p99 = await _direct_paced(redis, ingestor, run)
            results |= {"hub pusher p50 ms": p50, "hub pusher p99 ms": p99}
            results |= {"baseline p50 ms": base_p50, "baseline p99 ms": base_p99}
            print(f"run {run + 1}: " + ", ".join(f"{name} {value:,.0f}" for name, value in results.items()))
            for name, value in results.items():
                figures.setdefault(name, []).append(value)
        print(f"\nmedian of {runs} runs, {count} subscribed channels, 1 hub pusher process:")
        for name, values in figures.items():
            print(f"  {name:<22} {statistics.median(values):>10,.0f}")
        print(
            f"(events/s: a burst of {count} status changes, one per channel, triggered by 4 threads;\n"
            f" delays: {PACED_EVENTS} status changes paced at {PACED_RATE_PER_S}/s, trigger -> hub:events;\n"
            " baseline: Ingestor.ingest_raw called directly, 32 concurrent / at the same pace)"
        )
    finally:
        await ingestor.close()
        await redis.aclose()


PACED_EVENTS = 1000
# Codes that are not terminal (4, 9, 11, 7, 17 would end the subscriptions) and differ from the
# shipment's current one in every step (a status the shipment is already in is no change).
BURST_CODES, PACED_CODE = (3, 24), 25
PACED_RATE_PER_S = 100


async def _register(redis: Redis, tokens: list[str], merchant: str = "mer_bench") -> None:
    for start in range(0, len(tokens), 100):
        await asyncio.gather(
            *(shipments.register(redis, merchant, "hld", t) for t in tokens[start : start + 100])
        )


async def _burst(redis: Redis, client: pusher.Pusher, tokens: list[str], code: int) -> float:
    first = await redis.xlen(keys.EVENTS)
    batches = [[_status(t, code) for t in tokens[i : i + 10]] for i in range(0, len(tokens), 10)]
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(TRIGGER_THREADS) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, client.trigger_batch, batch) for batch in batches))
    triggered_s = time.monotonic() - started
    await _until(lambda: _has(redis, first + len(tokens)), RUN_TIMEOUT_S, "every event appended")
    print(f"  (burst: triggering took {triggered_s:.1f} s of {time.monotonic() - started:.1f} s)")
    return len(tokens) / (time.monotonic() - started)


async def _paced(redis: Redis, client: pusher.Pusher, tokens: list[str], code: int) -> tuple[float, float]:
    first = await redis.xlen(keys.EVENTS)
    last_id = (await redis.xrevrange(keys.EVENTS, count=1) or [("0-0", {})])[0][0]
    interval_s = 10 / PACED_RATE_PER_S
    started = time.monotonic()
    for index, start in enumerate(range(0, len(tokens), 10)):
        await asyncio.to_thread(client.trigger_batch, [_status(t, code) for t in tokens[start : start + 10]])
        await asyncio.sleep(max(0.0, started + (index + 1) * interval_s - time.monotonic()))
    await _until(lambda: _has(redis, first + len(tokens)), RUN_TIMEOUT_S, "every paced event appended")
    delays_ms = []
    for entry_id, fields in await redis.xrange(keys.EVENTS, f"({last_id}", "+"):
        event = json.loads(fields["event"])
        event_ms = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp() * 1000
        delays_ms.append(int(entry_id.split("-")[0]) - event_ms)
    return _percentile(delays_ms, 0.5), _percentile(delays_ms, 0.99)


async def _direct_burst(redis: Redis, ingestor: Ingestor, count: int, run: int) -> float:
    """The same burst normalized and appended without Pusher, on shipments `hub pusher` does not hold."""
    tokens = [f"base{run}-{index:05d}" for index in range(count)]
    await _register(redis, tokens, "mer_base")
    await _forget(redis, tokens)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)

    async def worker() -> None:
        while not queue.empty():
            await _ingest(ingestor, queue.get_nowait(), 2)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(32)))
    return count / (time.monotonic() - started)


async def _direct_paced(redis: Redis, ingestor: Ingestor, run: int) -> tuple[float, float]:
    tokens = [f"pace{run}-{index:05d}" for index in range(PACED_EVENTS)]
    await _register(redis, tokens, "mer_base")
    await _forget(redis, tokens)
    durations_ms = []
    interval_s = 1 / PACED_RATE_PER_S
    started = time.monotonic()
    for index, token in enumerate(tokens):
        before = time.monotonic()
        await _ingest(ingestor, token, 2)
        durations_ms.append((time.monotonic() - before) * 1000)
        await asyncio.sleep(max(0.0, started + (index + 1) * interval_s - time.monotonic()))
    return _percentile(durations_ms, 0.5), _percentile(durations_ms, 0.99)


async def _ingest(ingestor: Ingestor, token: str, code: int) -> None:
    body = json.dumps(_status(token, code)["data"]).encode()
    await ingestor.ingest_raw("hld", "pusher:hld.order.status_changed", body, Channel.PUSHER, ref=token)


async def _forget(redis: Redis, tokens: list[str]) -> None:
    """Take baseline shipments out of the active index so `hub pusher` leaves them alone."""
    ids = [await redis.get(keys.provider_ref("hld", token)) for token in tokens]
    for shipment_id, token in zip(ids, tokens, strict=True):
        await shipments.finished(redis, shipment_id, "hld", token)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _status(token: str, code: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data = {"order": {"id": token, "status": code}, "tracking_entry": {"status": code, "timestamp": now}}
    return {"channel": f"hld.order.{token}", "name": "hld.order.status_changed", "data": data}


async def _subscribed(control: httpx.AsyncClient, count: int) -> bool:
    state = (await control.get("/_emulator/state")).json()
    return sum(len(c["channels"]) for c in state["connections"]) >= count


async def _gapfilled(redis: Redis, count: int) -> bool:
    values = await redis.hgetall(keys.METRICS)
    return sum(float(v) for k, v in values.items() if k.startswith("hub_pusher_gapfills_total")) >= count


async def _has(redis: Redis, count: int) -> bool:
    return bool(await redis.xlen(keys.EVENTS) >= count)


async def _until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def _wait(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
