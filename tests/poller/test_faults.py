"""Every fault knob of the emulators, met by the poller: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.dev.emulators import alclient, all24
from hub.ingest import deadletter
from hub.model.observation import Channel
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, status_codes
from tests.poller.drive import drive
from tests.servers import ServerThread
from workers.poll import Poller

ALL24_FLOW = [step.code for step in all24.FLOWS["deliver"]]


async def push_silenced(redis: Redis, ref: str) -> shipments.Shipment:
    """An Alopeyk shipment whose webhooks have been silent for a while, so it is due for reconciliation."""
    shipment, _ = await shipments.register(redis, "m1", "alopeyk", ref)
    long_ago_ms = int(time.time() * 1000) - 60_000
    await redis.hset(
        keys.shipment(shipment.id), mapping={"created_ms": long_ago_ms, "last_event_ms": long_ago_ms}
    )
    return await shipments.get(redis, shipment.id)


async def assert_whole_flow_once(redis: Redis, shipment_id: str, flow: list[str]) -> None:
    codes = await status_codes(redis, shipment_id)
    assert codes == flow, f"expected every status once in order {flow}, got {codes}"


@pytest.mark.parametrize(
    ("knobs", "outcome"),
    [
        ({"server_error": 3}, "failed"),
        ({"timeout": 1, "hang_s": 2}, "failed"),
        ({"malformed": 2}, "failed"),
        ({"wrong_encoding": 1}, "failed"),
        ({"rate_limit": 2, "retry_after_s": 1}, "throttled"),
        ({"latency_ms": 300}, "polled"),
    ],
    ids=["5xx", "timeout", "malformed", "wrong-encoding", "429-retry-after", "latency"],
)
async def test_fault_is_survived_and_the_flow_still_arrives_exactly_once(
    redis: Redis, poller: Poller, emulators: Emulators, knobs: dict[str, float], outcome: str
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "all24", "HSFAULT01")
    emulators.faults("all24", **knobs)

    outcomes = await drive(poller, redis)

    assert outcomes[0].result == outcome
    await assert_whole_flow_once(redis, shipment.id, ALL24_FLOW)


async def test_unreadable_answer_is_dead_lettered_with_provider_shipment_and_reason(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    await shipments.register(redis, "m1", "all24", "HSBROKEN1")
    emulators.faults("all24", malformed=1)

    outcome = await poller.poll_one((await shipments.find(redis, "all24", "HSBROKEN1")).id)  # type: ignore[union-attr]

    assert outcome.result == "failed"
    [letter] = await deadletter.recent(redis, 10)
    assert (letter.provider, letter.ref, letter.channel) == ("all24", "HSBROKEN1", "poll")
    assert "JSON" in letter.reason


async def test_retry_after_holds_every_poll_of_the_provider(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    first, _ = await shipments.register(redis, "m1", "all24", "HSSLOW001")
    second, _ = await shipments.register(redis, "m1", "all24", "HSSLOW002")
    emulators.faults("all24", rate_limit=1, retry_after_s=30)

    assert (await poller.poll_one(first.id)).result == "throttled"
    assert (await poller.poll_one(second.id)).result == "throttled"

    assert len(emulators.requests("all24")) == 1, "the second poll must wait out Retry-After, not ask"
    assert await redis.zscore(keys.POLL_DUE, second.id) > (await redis.time())[0] * 1000 + 25_000


async def test_expired_token_is_renewed_by_logging_in_again(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alclient", "30001")
    assert (await poller.poll_one(shipment.id)).result == "polled"
    emulators.faults("alclient", expire_tokens=1)

    outcomes = await drive(poller, redis)

    assert {o.result for o in outcomes} <= {"polled", "confirming", "stopped"}, (
        "a renewed token must not fail a poll"
    )
    codes = await status_codes(redis, shipment.id)
    flow = [step.code for step in alclient.FLOWS["deliver"]]
    assert codes == flow[: len(codes)] and "6" in codes


async def test_refused_credentials_pause_the_account_say_so_once_and_show_in_readyz(
    redis: Redis,
    poller: Poller,
    emulators: Emulators,
    poll_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [(await shipments.register(redis, "m1", "all24", f"HSAUTH{n:03d}"))[0].id for n in range(5)]
    emulators.faults("all24", unauthorized=5)

    with caplog.at_level(logging.ERROR, logger="hub.clients.accounts"):
        outcomes = await poller.poll_many((shipment_id, 0) for shipment_id in ids)
        asked = len(emulators.requests("all24"))
        again = await poller.poll_one(ids[0])

    assert {o.result for o in outcomes} == {"paused"}
    assert again.result == "paused"
    assert 1 <= asked <= 5, "only polls already on their way may reach a refusing provider"
    assert len(emulators.requests("all24")) == asked, "a paused account must not be asked again"
    assert len([r for r in caplog.records if "unauthorized" in r.getMessage()]) == 1
    assert "all24-key" not in caplog.text
    with ServerThread(lambda url: create_app(poll_settings.replace(public_url=url))) as server:
        async with httpx.AsyncClient(timeout=10) as http:
            ready = (await http.get(f"{server.url}/readyz")).json()
    assert ready["status"] == "degraded"
    assert ready["checks"]["provider:all24"].startswith("unauthorized")


async def test_alopeyk_rate_headers_slow_the_provider_down(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    emulator = emulators.emulator("alopeyk")
    shipment = await push_silenced(redis, "99001")
    other = await push_silenced(redis, "99002")
    emulator.knobs.log.times_s.extend([time.time()] * 99)  # 99 requests this minute: the next leaves 0

    assert (await poller.poll_one(shipment.id)).result == "polled"

    assert (await poller.poll_one(other.id)).result == "throttled"
    assert len(emulator.knobs.log.times_s) == 100


async def test_push_then_poll_publishes_nothing_twice(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alopeyk", "77001")
    emulators.emulator("alopeyk").script("77001", step_s=1000)
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(
            f"{emulators.url('alopeyk')}/api/v2/orders/77001",
            headers={"Authorization": "Bearer x", "X-Requested-With": "XMLHttpRequest"},
        )
    order = answer.json()["object"]
    pushed = await poller.ingestor.ingest_raw(
        "alopeyk", "webhook", json.dumps({"order": order}).encode(), Channel.WEBHOOK, ref="77001"
    )
    assert pushed.published
    await push_silenced(redis, "77001")  # the push channel then went silent
    before = await redis.xlen(keys.EVENTS)

    assert (await poller.poll_one(shipment.id)).result == "polled"

    assert await redis.xlen(keys.EVENTS) == before
