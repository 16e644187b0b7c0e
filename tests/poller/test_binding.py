"""A polled answer belongs to the shipment that was polled, whatever id the answer carries."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.dev.emulators import alclient, all24, hld
from hub.ingest import deadletter
from hub.ingest.payload import Rejected
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel
from hub.registry import shipments
from tests.poller.conftest import ROOT, Emulators, status_codes
from tests.poller.drive import drive
from workers.poll import Poller

ALL24_FLOW = [step.code for step in all24.FLOWS["deliver"]]


async def test_all24_third_party_number_is_tracked_through_its_whole_flow(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    # docs/poller.md: a shipment registered as <customer_id>:<tracking_number> is looked up by
    # the third party's number; all24 answers with its own number in hs_order_ref.
    shipment, _ = await shipments.register(redis, "m1", "all24", "12345:TP-778-001")

    outcomes = await drive(poller, redis)

    assert {o.result for o in outcomes} <= {"polled", "stopped"}, outcomes
    assert await status_codes(redis, shipment.id) == ALL24_FLOW
    assert await deadletter.recent(redis, 10) == []
    current = await shipments.get(redis, shipment.id)
    assert current.status == "delivered"
    [event] = await shipments.history(redis, shipment.id, count=1)
    assert event["data"]["provider_ref"] == "12345:TP-778-001"
    assert event["data"]["merchant_ref"] == "shop-TP-778-001"
    assert await shipments.find(redis, "all24", str(all24_number(emulators, "12345:TP-778-001"))) is None


def all24_number(emulators: Emulators, ref: str) -> object:
    """The number the all24 emulator gave the third-party lookup (it is not the shipment's ref)."""
    emulated = emulators.emulator("all24").shipment(ref)
    number = all24._order(emulated)["hs_order_ref"]
    assert number != ref.rpartition(":")[2]
    return number


async def test_all24_third_party_answer_is_never_bound_to_a_shipment_registered_by_all24s_number(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    # Another merchant registered all24's own number: the third-party poll must not feed it.
    ref = "777:TP-SHARED"
    other, _ = await shipments.register(redis, "m2", "all24", str(all24_number(emulators, ref)))
    await redis.zrem(keys.POLL_DUE, other.id)
    mine, _ = await shipments.register(redis, "m1", "all24", ref)

    await drive(poller, redis)

    assert await status_codes(redis, mine.id) == ALL24_FLOW
    assert await status_codes(redis, other.id) == []


@pytest.mark.parametrize(
    ("provider", "ref", "flow"),
    [("alclient", "40001", alclient.FLOWS["deliver"]), ("hld", "tok-bind-1", hld.FLOWS["deliver"])],
)
async def test_other_polled_providers_bind_to_the_polled_shipment(
    redis: Redis, poller: Poller, emulators: Emulators, provider: str, ref: str, flow: tuple[object, ...]
) -> None:
    shipment, _ = await shipments.register(redis, "m1", provider, ref)

    await drive(poller, redis)

    codes = await status_codes(redis, shipment.id)
    assert codes == [step.code for step in flow][: len(codes)] and codes
    assert await deadletter.recent(redis, 10) == []
    for _, fields in await redis.xrange(keys.history(shipment.id)):
        assert json.loads(fields["event"])["data"]["provider_ref"] == ref


async def test_a_polled_answer_dead_lettered_before_the_fix_replays_onto_the_polled_shipment(
    redis: Redis, redis_url: str, ingestor: Ingestor, emulators: Emulators
) -> None:
    # What every poll of a third-party shipment left behind: the answer, bound by hs_order_ref.
    ref = "12345:TP-REPLAY"
    emulators.emulator("all24").script(ref, "deliver", step_s=3600)  # stays at 050000
    shipment, _ = await shipments.register(redis, "m1", "all24", ref)
    number = all24_number(emulators, ref)
    body = httpx.get(
        f"{emulators.url('all24')}/v1/tracking/orders",
        params={"tracking_number": "TP-REPLAY", "customer_id": "12345"},
        auth=("all24-key", ""),
        timeout=5,
    ).content
    with pytest.raises(Rejected, match=f"no shipment is registered for all24 ref {number}"):
        await ingestor.ingest_raw("all24", "tracking", body, Channel.POLL, ref=ref)
    [letter] = await deadletter.recent(redis, 10)

    replay = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hub", "deadletter", "replay", letter.id],
        env={**os.environ, "HUB_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert replay.returncode == 0, replay.stderr
    assert await status_codes(redis, shipment.id) == ["050000"]
