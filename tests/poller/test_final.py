"""A terminal code the provider documents as followed by a final one is polled until that code.

The Client API's flow ends ``6 Delivered → 9 Delivered (Final)``: the 9 may come long after
the 6, and the poller must keep asking, slowly, until it does or the wait runs out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from hub import keys
from hub.clients import http_client
from hub.dev.emulators import alclient
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, poller_env, status_codes
from tests.poller.drive import drive
from workers.poll import Outcome, Poller

FLOW = [step.code for step in alclient.FLOWS["deliver"]]  # 1 2 3 4 5 6 9
AN_HOUR_S = 3600.0  # the emulated shipment moves only when the test advances it


async def poll_until(
    poller: Poller, redis: Redis, seen: str, times: int, timeout_s: float = 30.0
) -> list[Outcome]:
    """Poll what falls due until ``seen`` was an outcome ``times`` times."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + timeout_s
    while sum(o.result == seen for o in outcomes) < times:
        assert time.monotonic() < deadline, f"no {times} x {seen!r} in {timeout_s} s: {outcomes[-5:]}"
        assert await redis.zcard(keys.POLL_DUE), f"polling stopped before {times} x {seen!r}: {outcomes[-5:]}"
        due = await redis.zrangebyscore(keys.POLL_DUE, "-inf", int(time.time() * 1000), withscores=True)
        outcomes += await poller.poll_many((member, int(score)) for member, score in due)
        if not due:
            await asyncio.sleep(0.02)  # nothing due yet: wait for the next due time
    return outcomes


def delivered_not_final(
    emulators: Emulators, ref: str, provider: str = "alclient", terminal: str = "6"
) -> None:
    """Script the order to reach its terminal code now; the final one comes only when the test says so."""
    scripted = emulators.emulator(provider).script(ref, "deliver", step_s=AN_HOUR_S)
    flow = [step.code for step in scripted.flow]
    for _ in range(flow.index(terminal)):
        scripted.advance()


@pytest.mark.parametrize(
    ("provider", "ref", "terminal"),
    [
        ("alclient", "50001", "6"),
        ("hld", "tok-final-1", "4"),
    ],  # 6 → 9 "Delivered (Final)"; 4 → 11 "Completed"
)
async def test_final_code_that_comes_long_after_delivered_is_still_fetched(
    redis: Redis, poller: Poller, emulators: Emulators, provider: str, ref: str, terminal: str
) -> None:
    delivered_not_final(emulators, ref, provider, terminal)
    shipment, _ = await shipments.register(redis, "m1", provider, ref)

    confirming = await poll_until(poller, redis, "confirming", times=3)  # terminal: still asked
    assert "stopped" not in {o.result for o in confirming}
    emulators.emulator(provider).shipment(ref).advance()  # now the final code
    rest = await drive(poller, redis)

    flow = [step.code for step in emulators.emulator(provider).flows["deliver"]]
    assert rest[-1].result == "stopped"
    assert await status_codes(redis, shipment.id) == flow
    assert await redis.hget(keys.shipment(shipment.id), "status_code") == flow[-1]


@pytest.fixture
async def impatient(redis: Redis, redis_url: str, emulators: Emulators) -> AsyncIterator[Poller]:
    env = poller_env(redis_url, emulators, HUB_ALCLIENT_POLL_FINAL_WAIT_S="1")
    settings = Settings.from_env(env)
    async with http_client(settings) as http:
        made = Poller(redis, settings, http)
        yield made
        await made.close()


async def test_waiting_for_the_final_code_ends_after_the_configured_time(
    redis: Redis, impatient: Poller, emulators: Emulators
) -> None:
    delivered_not_final(emulators, "50002")
    shipment, _ = await shipments.register(redis, "m1", "alclient", "50002")

    started_s = time.monotonic()
    outcomes = await drive(impatient, redis, timeout_s=20)

    assert [o.result for o in outcomes][-1] == "stopped"
    assert "confirming" in {o.result for o in outcomes}
    assert time.monotonic() - started_s >= 1.0
    assert await status_codes(redis, shipment.id) == FLOW[:-1]
    assert (await shipments.get(redis, shipment.id)).status == "delivered"


async def test_a_terminal_code_without_a_documented_final_stops_after_one_confirming_poll(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    emulators.emulator("alclient").script("50003", "cancel", step_s=0.2)  # 7 Cancelled: nothing follows
    shipment, _ = await shipments.register(redis, "m1", "alclient", "50003")

    outcomes = await drive(poller, redis, timeout_s=20)

    assert "confirming" not in {o.result for o in outcomes}
    assert (await shipments.get(redis, shipment.id)).status == "cancelled"
