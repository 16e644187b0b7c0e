"""Soak: the real processes under steady Alopeyk traffic; a random one SIGKILLed, Redis restarted, on a timer.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 200] [--kill-every-s 10]
                                   [--redis-restart-every-s 120] [--steps 10] [--seed 1]

The Procfile's processes (web, normalizer, worker, scheduler, dispatcher) run as subprocesses on
a dedicated embedded Redis; a merchant endpoint (a real HTTP server verifying every signature)
and a merchant's live subscriber (a WebSocket resuming by offset) watch what comes out. Every
``--kill-every-s`` a random process is SIGKILLed and started again; every
``--redis-restart-every-s`` Redis is stopped and started again on the same port and data.
``--rate`` is webhooks per second (each one step of an order: a courier position, so one event;
an order's first step also brings its three status events).

First a baseline: the same traffic with no faults, for a quarter of the time (30 s at most).
Then it prints, beside the baseline: events lost / duplicated / out of order, deliveries missing
/ duplicated (and how many were in flight at the kills: the at-least-once allowance), live frames
missed after resume, the largest inbox lag and the count of 5xx. Exit status 1 when any figure
that must be 0 is not. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.figures import Figures
from tests.chaos.processes import PROCESSES
from tests.chaos.rig import Rig

SETTLE_S = 180.0
BASELINE_MAX_S = 30.0
MUST_BE_ZERO = (
    "events_lost",
    "events_duplicated",
    "events_out_of_order",
    "deliveries_missing",
    "deliveries_out_of_order",
    "deliveries_unverified",
    "live_frames_missed",
    "live_frames_duplicated",
    "live_unrecovered",
    "server_errors",
)


async def run(
    args: argparse.Namespace, seconds: float, faults: bool, work_dir: Path
) -> tuple[Figures, dict[str, int]]:
    orders = max(1, math.ceil(seconds * args.rate / args.steps))
    lanes = max(8, min(200, int(args.rate / 5)))
    rng = random.Random(args.seed)
    done: dict[str, int] = {}
    recover = {"HUB_LIVE_RECOVER_MAX": str(args.live_recover_max)}
    async with Rig(work_dir, receiver_delay_s=args.receiver_delay_s, **recover) as rig:
        traffic = asyncio.create_task(
            rig.send(orders=orders, steps=args.steps, rate_per_s=args.rate, concurrency=lanes)
        )
        if faults:
            await _faults(rig, traffic, args, rng, done)
        await asyncio.wait_for(traffic, seconds * 3 + 120)
        figures = await rig.settle(SETTLE_S)
        exited = rig.processes.exited()
        if exited:
            print(f"processes that exited on their own: {exited}", file=sys.stderr)
        done["processes_exited"] = len(exited)
        return figures, done


async def _faults(
    rig: Rig, traffic: asyncio.Task[None], args: argparse.Namespace, rng: random.Random, done: dict[str, int]
) -> None:
    """Kill a random process every ``--kill-every-s`` and restart Redis every ``--redis-restart-every-s``."""
    loop = asyncio.get_running_loop()
    next_kill = loop.time() + args.kill_every_s
    next_restart = loop.time() + args.redis_restart_every_s
    for _ in range(100_000):  # bounded: one round per fault at most
        wake = min(next_kill, next_restart)
        await asyncio.wait({traffic}, timeout=max(0.0, wake - loop.time()))
        if traffic.done():
            return
        if loop.time() >= next_restart:
            await rig.restart_redis(args.redis_down_s)
            done["redis_restarts"] = done.get("redis_restarts", 0) + 1
            next_restart = loop.time() + args.redis_restart_every_s
        if loop.time() >= next_kill:
            name = rng.choice(PROCESSES)
            await rig.kill(name)
            done[f"killed_{name}"] = done.get(f"killed_{name}", 0) + 1
            next_kill = loop.time() + args.kill_every_s


def _print(
    baseline: Figures, soak: Figures, done: dict[str, int], seconds: float, args: argparse.Namespace
) -> None:
    print(
        f"\nsoak: {seconds:.0f} s at {args.rate:g} webhooks/s,"
        f" a process killed every {args.kill_every_s:g} s,"
    )
    print(f"Redis restarted every {args.redis_restart_every_s:g} s; faults: {done}")
    print(f"{'figure':34}{'baseline (no faults)':>22}{'soak':>12}")
    for (name, base), (_, value) in zip(asdict(baseline).items(), asdict(soak).items(), strict=True):
        print(f"{name:34}{base!s:>22}{value!s:>12}")


def _verdict(soak: Figures, done: dict[str, int]) -> list[str]:
    failures = [name for name in MUST_BE_ZERO if getattr(soak, name)]
    if soak.deliveries_duplicated > soak.deliveries_in_flight_at_kills:
        failures.append("deliveries_duplicated exceeds deliveries_in_flight_at_kills")
    if done.get("processes_exited"):
        failures.append("processes_exited")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--live-recover-max",
        type=int,
        default=20_000,
        help="HUB_LIVE_RECOVER_MAX: how far behind a resuming live client may be and still be replayed (the "
        "default 1,000 is 3.5 s of a 280 events/s stream; a web process killed and restarted takes longer)",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--kill-every-s", type=float, default=10.0)
    parser.add_argument("--redis-restart-every-s", type=float, default=120.0)
    parser.add_argument("--redis-down-s", type=float, default=1.0, help="how long Redis stays down")
    parser.add_argument("--steps", type=int, default=10, help="webhooks per order")
    parser.add_argument("--receiver-delay-s", type=float, default=0.02, help="the merchant's answer time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep Redis data and process logs in this directory")
    args = parser.parse_args()
    seconds = args.minutes * 60
    baseline_s = min(BASELINE_MAX_S, seconds / 4)
    with tempfile.TemporaryDirectory(prefix="hub-soak-") as tmp:
        work_dir = args.keep or Path(tmp)
        started = time.monotonic()
        baseline, _ = asyncio.run(run(args, baseline_s, False, work_dir / "baseline"))
        soak, done = asyncio.run(run(args, seconds, True, work_dir / "soak"))
        _print(baseline, soak, done, seconds, args)
        print(f"(took {time.monotonic() - started:.0f} s)")
    failures = _verdict(soak, done)
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        return 1
    print("OK: every figure that must be 0 is 0; duplicate deliveries within those in flight at the kills")
    return 0


if __name__ == "__main__":
    sys.exit(main())
