"""ALOD polled over real HTTP from its emulator: its final words, and its refusals inside HTTP 200."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.api.app import create_app
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, status_codes
from tests.servers import ServerThread
from workers.poll import Poller

SLOW_STEP_S = 3600.0  # the tests move the timeline themselves (Scripted.advance)


async def published_statuses(redis: Redis, shipment_id: str) -> list[str]:
    entries = await redis.xrange(keys.EVENTS)
    events = [json.loads(fields["event"]) for _, fields in entries if fields["shipment"] == shipment_id]
    return [e["data"]["status"] for e in events if e["type"] == "shipment.status_changed"]


async def readyz(settings: Settings) -> dict[str, object]:
    with ServerThread(lambda url: create_app(settings.replace(public_url=url))) as server:
        async with httpx.AsyncClient(timeout=10) as http:
            ready: dict[str, object] = (await http.get(f"{server.url}/readyz")).json()
    return ready


async def test_delivered_said_before_the_trace_says_it_is_published_once(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    ref = "625fe47c6b8812713f16c5a1"
    shipment, _ = await shipments.register(redis, "m1", "alod", ref)
    scripted = emulators.emulator("alod").script(ref, "delivered_first", step_s=SLOW_STEP_S)
    scripted.advance()  # Reached Receiver
    scripted.advance()  # booking_status "delivered"; the trace still ends at Reached Receiver

    assert (await poller.poll_one(shipment.id)).result == "polled"
    scripted.advance()  # the trace now says "Delivered" as well
    assert (await poller.poll_one(shipment.id)).result == "stopped"  # the confirming poll

    assert await published_statuses(redis, shipment.id) == ["pending", "at_dropoff", "delivered"]
    assert await status_codes(redis, shipment.id) == ["Shipment Submitted", "Reached Receiver", "Delivered"]


async def test_a_booking_that_times_out_with_no_trace_becomes_expired_and_polling_stops(
    redis: Redis, poller: Poller, emulators: Emulators
) -> None:
    ref = "625fe47c6b8812713f16c5a2"
    shipment, _ = await shipments.register(redis, "m1", "alod", ref)
    emulators.emulator("alod").script(ref, "timeout", step_s=SLOW_STEP_S)

    assert (await poller.poll_one(shipment.id)).result == "polled"
    assert (await poller.poll_one(shipment.id)).result == "stopped"

    assert (await shipments.get(redis, shipment.id)).status == "expired"
    assert await published_statuses(redis, shipment.id) == ["expired"]
    assert await redis.zscore(keys.POLL_DUE, shipment.id) is None


async def test_a_refused_authkey_pauses_the_account_says_so_once_and_shows_in_readyz(
    redis: Redis,
    poller: Poller,
    emulators: Emulators,
    poll_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refs = [f"625fe47c6b8812713f16c6{n:02x}" for n in range(5)]
    ids = [(await shipments.register(redis, "m1", "alod", ref))[0].id for ref in refs]
    emulators.faults("alod", unauthorized=5)  # HTTP 200, status: error, param: authkey

    with caplog.at_level(logging.INFO):
        outcomes = await poller.poll_many((shipment_id, 0) for shipment_id in ids)
        asked = len(emulators.requests("alod"))
        again = await poller.poll_one(ids[0])

    assert {o.result for o in outcomes} == {"paused"}
    assert again.result == "paused"
    assert 1 <= asked <= 5, "only polls already on their way may reach a refusing provider"
    assert len(emulators.requests("alod")) == asked, "a paused account must not be asked again"
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["hub.clients.accounts"]
    assert "alod-key" not in caplog.text, "ALOD echoes the refused key as 'value': never log it"
    for shipment_id in ids:
        assert await redis.hget(keys.poll_state(shipment_id), "failures") in (None, "0")
    ready = await readyz(poll_settings)
    assert ready["status"] == "degraded"
    assert str(ready["checks"]["provider:alod"]).startswith("unauthorized")  # type: ignore[index]


async def test_an_unknown_booking_id_fails_that_shipment_only(
    redis: Redis, poller: Poller, emulators: Emulators, poll_settings: Settings
) -> None:
    missing, _ = await shipments.register(redis, "m1", "alod", "missing-booking")
    fine, _ = await shipments.register(redis, "m1", "alod", "625fe47c6b8812713f16c5a3")

    assert (await poller.poll_one(missing.id)).result == "failed"  # param: booking_id
    assert (await poller.poll_one(fine.id)).result == "polled"

    assert await redis.hget(keys.poll_state(missing.id), "failures") == "1"
    assert await readyz(poll_settings) == {"status": "ready", "checks": {"redis": "ok"}}
