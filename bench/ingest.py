"""Alopeyk receiver throughput vs. a bare Starlette endpoint that only parses the same JSON.

Both run under uvicorn with one worker on 127.0.0.1 and are loaded by wrk (64 connections,
one thread) with the same Alopeyk webhooks, alternately, at least three times; the figures are
medians, and each run's ratio to the bare run beside it is printed with their minimum. The
server under test has CPU 0 to itself; wrk, the Redis-protocol server and the normalizer
share CPU 1 (on a machine with fewer than two CPUs nothing is pinned).

The receiver answers only after the webhook is appended to the inbox (valkey with an
append-only file, fsync every second); one ``hub normalizer`` process turns the inbox into
events meanwhile, and the script reports how fast it did, including the time it took to
drain what was left when wrk stopped.

With ``--durability fsync`` the receiver answers only after Redis fsynced the inbox entry
(``HUB_INGEST_DURABILITY=fsync``: one ``WAITAOF`` per group of concurrent requests);
``--durability both`` measures ``written`` and ``fsync`` alternately in the same run, beside
the bare endpoint, so their figures compare on equal terms.

    python bench/ingest.py [--runs 3] [--duration-s 10] [--connections 64] [--inline]
                           [--durability written|fsync|both] [--profile PREFIX]

With ``--profile PREFIX`` py-spy samples the receiver while wrk loads it (``pip install py-spy``)
and writes collapsed stacks to ``PREFIX-receiver-<run>.txt``.

Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import keys  # noqa: E402
from hub.dev.embedded import EmbeddedRedis, free_port  # noqa: E402
from hub.registry import merchants  # noqa: E402

SCRIPT = ROOT / "bench" / "alopeyk_webhooks.lua"
DRAIN_TIMEOUT_S = 120
SERVER_CPU, LOAD_CPU = 0, 1


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    normalized_per_s: float = 0.0
    drain_s: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="at least 3: the minimum ratio counts")
    parser.add_argument("--duration-s", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--inline",
        action="store_true",
        help="HUB_RECEIVE_INLINE: events appended before the answer, no normalizer",
    )
    parser.add_argument(
        "--durability",
        choices=("written", "fsync", "both"),
        default="written",
        help="HUB_INGEST_DURABILITY of the receiver; both: each, alternately",
    )
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the receiver: PREFIX-receiver-<run>.txt")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3: the target holds for every run, not only the median")
    modes = ("written", "fsync") if args.durability == "both" else (args.durability,)
    if not shutil.which("wrk"):
        raise SystemExit("bench/ingest.py needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as redis_server:
        assert redis_server.process is not None
        _pin(redis_server.process.pid, LOAD_CPU)
        secret = asyncio.run(_merchant_secret(redis_server.url))
        bare: list[Result] = []
        hub: dict[str, list[Result]] = {mode: [] for mode in modes}
        for run in range(1, args.runs + 1):
            bare.append(_measure(["bench.bare_app:app"], {}, "/ingest/alopeyk/x", args))
            rates = [f"bare {bare[-1].requests_per_s:,.0f} req/s"]
            for mode in modes:
                result = _measure_hub(redis_server.url, secret, mode, args)
                hub[mode].append(result)
                rates.append(f"receiver ({mode}) {result.requests_per_s:,.0f} req/s")
                rates.append(f"normalizer {result.normalized_per_s:,.0f}/s")
            print(f"run {run}: {', '.join(rates)}")
        _report(bare, hub, args)


def _measure_hub(redis_url: str, secret: str, durability: str, args: argparse.Namespace) -> Result:
    asyncio.run(_flush(redis_url, keep_merchants=True))
    env = {"HUB_REDIS_URL": redis_url, "HUB_LOG_LEVEL": "warning", "HUB_INGEST_DURABILITY": durability}
    env["HUB_RECEIVE_INLINE"] = "true" if args.inline else "false"
    with _normalizer(env, run=not args.inline) as drained:
        app = ["--factory", "hub.api.app:create_served_app"]  # as `hub serve` runs it
        result = _measure(app, env, f"/ingest/alopeyk/{secret}", args, profiled=True)
        result.drain_s = drained()
    accepted = result.requests_per_s * args.duration_s
    result.normalized_per_s = accepted / (args.duration_s + result.drain_s)
    return result


def _measure(
    app: list[str], env: dict[str, str], path: str, args: argparse.Namespace, profiled: bool = False
) -> Result:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    server_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        command, env=server_env, cwd=ROOT, preexec_fn=lambda: _pin(0, SERVER_CPU)
    ) as server:
        spy = None
        try:
            _wait_listening(port)
            spy = _profile(server.pid, args.profile) if profiled and args.profile else None
            load = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration_s}s", "--latency"]
            wrk = subprocess.run(
                [*load, "-s", str(SCRIPT), f"http://127.0.0.1:{port}{path}"],
                capture_output=True,
                text=True,
                timeout=args.duration_s + 60,
                check=True,
                preexec_fn=lambda: _pin(0, LOAD_CPU),
            )
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                spy.wait(timeout=60)
            server.terminate()
            server.wait(timeout=30)
    return _parse(wrk.stdout)


def _profile(pid: int, prefix: str) -> subprocess.Popen[bytes]:
    out = f"{prefix}-receiver-{time.strftime('%H%M%S')}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "-p", str(pid), "-f", "raw", "-o", out, "-r", "200", "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def _normalizer(env: dict[str, str], run: bool) -> Iterator[Callable[[], float]]:
    """Runs ``hub normalizer``; the callable waits until the inbox is empty and says how long that took."""
    if not run:  # inline: the receiver appended every event itself
        yield lambda: 0.0
        return
    command = [sys.executable, "-m", "hub", "normalizer"]
    environ = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, env=environ, cwd=ROOT, preexec_fn=lambda: _pin(0, LOAD_CPU)) as process:

        def drained() -> float:
            started = time.monotonic()
            with redis.Redis.from_url(env["HUB_REDIS_URL"]) as client:
                while client.xlen(keys.INBOX) and time.monotonic() - started < DRAIN_TIMEOUT_S:
                    time.sleep(0.05)
            return time.monotonic() - started

        try:
            yield drained
        finally:
            process.terminate()
            process.wait(timeout=30)


def _pin(pid: int, cpu: int) -> None:
    """Keep ``pid`` on one CPU, so the server under test never shares its core with the load."""
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(pid, {cpu})


def _parse(output: str) -> Result:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rate, latency["50"], latency["99"], int(errors.group(1)) if errors else 0)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


async def _merchant_secret(redis_url: str) -> str:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        return (await merchants.create(redis, "bench")).alopeyk_secret
    finally:
        await redis.aclose()


async def _flush(redis_url: str, keep_merchants: bool) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        async for key in redis.scan_iter(match="hub:*", count=1000):
            if not (
                keep_merchants and (key.startswith("hub:merchant:") or key.startswith("hub:alopeyk-secret:"))
            ):
                await redis.delete(key)
    finally:
        await redis.aclose()


def _report(bare: list[Result], hub: dict[str, list[Result]], args: argparse.Namespace) -> None:
    def median(results: list[Result], field: str) -> float:
        return statistics.median(getattr(r, field) for r in results)

    setup = f"{args.duration_s} s each, {args.connections} connections, uvicorn 1 worker"
    print(f"\nmedian of {args.runs} runs, {setup}")
    print(f"{'endpoint':<40}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    rows = [("bare Starlette, parse only", bare)]
    for mode, results in hub.items():
        how = "inline" if args.inline else "inbox append"
        rows.append((f"Alopeyk receiver, {how}, {mode}", results))
    for name, results in rows:
        print(
            f"{name:<40}{median(results, 'requests_per_s'):>10,.0f}{median(results, 'p50_ms'):>10.1f}"
            f"{median(results, 'p99_ms'):>10.1f}{sum(r.errors for r in results):>10}"
        )
    for mode, results in hub.items():
        ratio = median(results, "requests_per_s") / median(bare, "requests_per_s")
        # Each run's hub against the bare run just before it: the machine's pace varies between runs.
        each = [h.requests_per_s / b.requests_per_s for h, b in zip(results, bare, strict=True)]
        runs = ", ".join(f"{r:.0%}" for r in each)
        print(
            f"receiver ({mode}) / bare: {ratio:.0%} median, {min(each):.0%} minimum (runs: {runs});", end=""
        )
        print(" target: at least 50% in every run")
        if not args.inline:
            print(
                f"  one hub normalizer turned {median(results, 'normalized_per_s'):,.0f} webhooks/s into "
                f"events (inbox drained {median(results, 'drain_s'):.1f} s after the load stopped)"
            )


if __name__ == "__main__":
    main()
