"""Chaos: the Procfile's processes on a real Redis, each kind SIGKILLed once and Redis restarted once
mid-stream; nothing lost, duplicated or reordered, every delivery made, the live subscriber resumed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.chaos.rig import Rig

ORDERS, STEPS, RATE_PER_S = 24, 10, 20.0
RECEIVER_DELAY_S = 0.3
# Each fault once, at this share of the webhooks accepted; "redis" restarts the server.
FAULTS = (
    (0.10, "normalizer"),
    (0.22, "worker"),
    (0.34, "dispatcher"),
    (0.46, "redis"),
    (0.58, "web"),
    (0.70, "scheduler"),
    (0.80, "worker"),  # again, right after Redis came back: the case that used to stop deliveries
)
FAULT_WAIT_S = 60.0
SETTLE_S = 45.0


async def _when_sent(rig: Rig, share: float) -> None:
    wanted = int(share * ORDERS * STEPS)
    deadline = asyncio.get_running_loop().time() + FAULT_WAIT_S
    while rig.sent.count < wanted:
        assert asyncio.get_running_loop().time() < deadline, f"traffic stalled before {wanted} webhooks"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_every_process_killed_and_redis_restarted_mid_stream_loses_nothing(tmp_path: Path) -> None:
    async with Rig(tmp_path, receiver_delay_s=RECEIVER_DELAY_S) as rig:
        traffic = asyncio.create_task(rig.send(orders=ORDERS, steps=STEPS, rate_per_s=RATE_PER_S))
        for share, fault in FAULTS:
            await _when_sent(rig, share)
            await (rig.restart_redis() if fault == "redis" else rig.kill(fault))
        await asyncio.wait_for(traffic, FAULT_WAIT_S)
        figures = await rig.settle(SETTLE_S)
        print(figures.report())

        assert rig.sent.refused == [] and figures.webhooks_accepted == ORDERS * STEPS
        assert figures.server_errors == 0  # only 503 while Redis was away, and the sender retried
        assert (figures.events_lost, figures.events_duplicated, figures.events_out_of_order) == (0, 0, 0)
        assert (figures.deliveries_missing, figures.deliveries_out_of_order) == (0, 0)
        assert figures.deliveries_duplicated <= figures.deliveries_in_flight_at_kills
        assert figures.deliveries_unverified == 0
        live = (figures.live_frames_missed, figures.live_positions_coalesced, figures.live_frames_duplicated)
        assert live == (0, 0, 0)  # at this rate nothing is slow enough to be coalesced
        assert figures.live_unrecovered == 0
        assert rig.live is not None and rig.live.connects >= 2  # it was cut off and resumed by offset
        assert rig.readyz_during_outage and all(s != 200 for s in rig.readyz_during_outage)
        assert rig.processes.exited() == {}  # nothing gave up: every process outlived the faults
