"""A polled answer belongs to the shipment that was polled, whatever id the answer carries."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from hub import deadletter, keys, shipments
from hub.emulators import alclient, all24, hld
from tests.poller.conftest import Emulators, status_codes
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
