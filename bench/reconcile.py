"""Calls to HLD per reconciliation round: one tracking call per shipment against the paged order list.

Starts a Redis-protocol server (embedded, unless HUB_REDIS_URL is set) and the HLD emulator
(in this process, on 127.0.0.1, answering in ``--latency-ms``). Registers ``--shipments`` HLD
shipments the hub has polled once (so it knows their HLD order ids), lets ``--changed-pct``
of them change behind the hub's back (a missed Pusher event), then reconciles every shipment
twice: the baseline, measured in the same run, is what the poller does today (one tracking
call each, concurrently); the bulk round reads the order list ``--per-page`` orders a page
and asks the tracking endpoint only about the orders whose status differs. Prints calls,
wall time and the events each published (the same changes: both must find the missed ones).

    .venv/bin/python bench/reconcile.py                  # 1000 shipments, about 15 s
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.clients import http_client  # noqa: E402
from hub.clients.hld import HldClient  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402
from hub.dev.emulators import hld  # noqa: E402
from hub.ingest.pipeline import Ingestor  # noqa: E402
from hub.model.observation import Channel  # noqa: E402
from hub.registry import shipments  # noqa: E402
from hub.settings import Settings  # noqa: E402
from workers.reconcile import BulkReconciler  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=1000)
    parser.add_argument("--changed-pct", type=float, default=5.0)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), free_port()) as server:
        app = hld.app(step_s=86400)
        app.state.emulator.knobs.faults.latency_ms = args.latency_ms
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        while not uv.started:
            time.sleep(0.02)
        try:
            env = {
                "HUB_REDIS_URL": server.url,
                "HUB_HLD_BASE_URL": f"http://127.0.0.1:{port}",
                "HUB_HLD_TOKEN": "bench",
                "HUB_HLD_BULK_PER_PAGE": str(args.per_page),
                "HUB_HLD_BULK_MAX_PAGES": str(args.shipments // args.per_page + 2),
            }
            rows = asyncio.run(run(Settings.from_env(env), app.state.emulator, args))
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
    print(f"{'round':<28}{'calls to HLD':>14}{'wall s':>10}{'events':>10}")
    for name, calls, wall_s, published in rows:
        print(f"{name:<28}{calls:>14}{wall_s:>10.2f}{published:>10}")
    saved = rows[0][1] - rows[1][1]
    print(f"calls saved by the order list: {saved} of {rows[0][1]} ({100 * saved / rows[0][1]:.1f} %)")


async def run(
    settings: Settings, emulator: hld.HldEmulator, args: argparse.Namespace
) -> list[tuple[str, int, float, int]]:
    redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    tokens = [f"HLDBENCH{n:06d}" for n in range(args.shipments)]
    changed = tokens[:: max(1, round(100 / args.changed_pct))] if args.changed_pct > 0 else []
    rows = []
    async with http_client(settings, args.concurrency) as http:
        client = HldClient(settings, http, redis)
        for name in ("one tracking call each", "order list + changed only"):
            await redis.flushdb()  # the same start for both rounds
            ingestor = Ingestor(redis, settings)
            for token in tokens:
                await shipments.register(redis, "bench", "hld", token)
                emulator.script(token, step_s=86400)
            await _single_round(client, ingestor, tokens, args.concurrency)  # the hub heard "1" of each
            for token in changed:  # then a change Pusher never delivered
                emulator.shipment(token).advance()
                emulator.shipment(token).advance()
            emulator.calls.clear()
            started_s = time.perf_counter()
            if name.startswith("one"):
                published = await _single_round(client, ingestor, tokens, args.concurrency)
            else:
                published = (await BulkReconciler(redis, settings, http, ingestor).run()).published
            wall_s = time.perf_counter() - started_s
            rows.append((name, sum(emulator.calls.values()), wall_s, published))
            await ingestor.close()
    await redis.aclose()
    return rows


async def _single_round(client: HldClient, ingestor: Ingestor, tokens: list[str], concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def one(token: str) -> int:
        async with gate:
            answer = await client.track(token)
            ingested = await ingestor.ingest_raw("hld", answer.kind, answer.body, Channel.POLL, ref=token)
            return len(ingested.published)

    return sum(await asyncio.gather(*(one(token) for token in tokens)))


if __name__ == "__main__":
    main()
