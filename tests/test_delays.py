"""``shipment.delayed``: HLD's documented tracking answer, a real Redis, and an injected clock."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.ingest.pipeline import Ingestor
from hub.model.event import schema
from hub.model.observation import Channel
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.append import Store
from hub.streams.delays import DelayChecker, delayed_event, due_ms
from tests.conftest import ROOT

TOKEN = "HLD67890ABCDEF"
ON_THE_WAY: dict[str, Any] = json.loads((ROOT / "tests/fixtures/hld/tracking_on_the_way.json").read_text())
ETA = "2026-04-04T11:15:00.000Z"  # the fixture's delivery_eta; HLD's grace is 600 s by default


def at(hh_mm: str) -> datetime:
    return datetime.fromisoformat(f"2026-04-04T{hh_mm}:00+00:00")


def answer(eta: str | None = None, lat: float | None = None, **changes: Any) -> bytes:
    """HLD's tracking example, with the ETA, the executive's position or the order changed."""
    body = copy.deepcopy(ON_THE_WAY)
    if eta is not None:
        body["data"]["delivery_eta"] = eta
    if lat is not None:
        body["data"]["executive"]["current_location"]["lat"] = lat
    body["data"].update(changes)
    return json.dumps(body).encode()


@pytest.fixture
async def shipment_id(redis: Redis, ingestor: Ingestor) -> str:
    registered, _ = await shipments.register(redis, "mer_1", "hld", TOKEN)
    await ingestor.ingest_raw("hld", "tracking", answer(), Channel.POLL, ref=TOKEN)
    return registered.id


async def delayed(redis: Redis, shipment_id: str) -> list[dict[str, Any]]:
    return [e for e in await shipments.history(redis, shipment_id) if e["type"] == "shipment.delayed"]


async def published_delays(redis: Redis) -> list[str]:
    return [f["type"] for _, f in await redis.xrange(keys.EVENTS) if f["type"] == "shipment.delayed"]


async def test_an_eta_indexes_its_check_and_nothing_is_late_before_the_grace_runs_out(
    redis: Redis, settings: Settings, shipment_id: str
) -> None:
    assert await redis.zscore(keys.DELAY_DUE, shipment_id) == due_ms(ETA, 600)
    checked = await DelayChecker(redis, settings).check(shipment_id, at("11:24"))

    assert checked.result == "waiting"
    assert await delayed(redis, shipment_id) == []
    assert await redis.zscore(keys.DELAY_DUE, shipment_id) == due_ms(ETA, 600)


async def test_two_checkers_racing_on_a_late_shipment_publish_one_event(
    redis: Redis, redis_url: str, settings: Settings, shipment_id: str
) -> None:
    other = Redis.from_url(redis_url, decode_responses=True)  # a second process: its own pool and store
    try:
        checkers = [DelayChecker(redis, settings), DelayChecker(other, settings, Store(other, settings))]
        results = await asyncio.gather(*(c.check(shipment_id, at("11:26")) for c in checkers))
        again = await checkers[0].check(shipment_id, at("11:40"))  # a restart re-running the check
    finally:
        await other.aclose()

    assert sorted(r.result for r in results) == ["duplicate", "published"]
    assert again.result == "duplicate"
    [event] = await delayed(redis, shipment_id)
    assert await published_delays(redis) == ["shipment.delayed"]
    jsonschema.validate(event, schema())
    assert (event["time"], event["data"]["eta"], event["data"]["channel"]) == (ETA, ETA, "hub")
    assert event["data"]["status"] == event["data"]["previous_status"] == "out_for_delivery"
    assert await redis.zscore(keys.DELAY_DUE, shipment_id) is None  # nothing left to check
    state = (await shipments.get(redis, shipment_id)).state
    assert state["status"] == "out_for_delivery"  # a verdict, not news: the status stays as it was


async def test_a_delivered_shipment_is_never_late(
    redis: Redis, settings: Settings, ingestor: Ingestor, shipment_id: str
) -> None:
    before = await shipments.get(redis, shipment_id)  # what a checker read just before delivery
    delivered = answer(status=4, status_text="Delivered", completed_at="2026-04-04T11:05:00Z")
    await ingestor.ingest_raw("hld", "tracking", delivered, Channel.POLL, ref=TOKEN)

    assert await redis.zscore(keys.DELAY_DUE, shipment_id) is None  # the terminal status disarmed it
    assert (await DelayChecker(redis, settings).check(shipment_id, at("12:00"))).result == "finished"
    [raced] = await Store(redis, settings).append([delayed_event(before, ETA, at("12:00"))])
    assert raced.outcome == "void"  # the checker that lost the race to the delivery publishes nothing
    assert await delayed(redis, shipment_id) == []
    assert await published_delays(redis) == []


async def test_an_eta_moved_later_cancels_the_check_and_is_reported_when_it_passes_again(
    redis: Redis, settings: Settings, ingestor: Ingestor, shipment_id: str
) -> None:
    checker = DelayChecker(redis, settings)
    new_eta = "2026-04-04T11:40:00.000Z"
    await ingestor.ingest_raw("hld", "tracking", answer(eta=new_eta, lat=19.02), Channel.POLL, ref=TOKEN)
    assert (await checker.check(shipment_id, at("11:30"))).result == "waiting"  # 11:15 no longer counts
    assert await delayed(redis, shipment_id) == []

    assert (await checker.check(shipment_id, at("11:51"))).result == "published"
    later_eta = "2026-04-04T12:10:00.000Z"
    await ingestor.ingest_raw("hld", "tracking", answer(eta=later_eta, lat=19.03), Channel.POLL, ref=TOKEN)
    assert (await checker.check(shipment_id, at("12:15"))).result == "waiting"
    assert (await checker.check(shipment_id, at("12:21"))).result == "published"
    assert (await checker.check(shipment_id, at("12:30"))).result == "duplicate"  # a rerun repeats nothing
    assert await redis.zscore(keys.DELAY_DUE, shipment_id) is None

    found = await delayed(redis, shipment_id)
    assert [e["data"]["eta"] for e in found] == [new_eta, later_eta]
    assert len({e["id"] for e in found}) == 2
    assert await published_delays(redis) == ["shipment.delayed"] * 2


async def test_the_grace_is_a_per_provider_setting(redis_url: str) -> None:
    settings = Settings.from_env({"HUB_REDIS_URL": redis_url, "HUB_HLD_DELAY_GRACE_S": "120"})
    assert settings.delay_grace("hld") == 120
    assert settings.delay_grace("all24") == 3600
