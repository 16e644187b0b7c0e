"""Deliveries to real receivers that verify every request with the official standardwebhooks package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.webhooks.deliveries import Deliveries
from tests.webhooks.conftest import Hub, Receiver, delivery_status, eventually, sequences


async def test_every_event_reaches_every_matching_endpoint_exactly_once(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    everything, url_a = receivers()
    only_alod, url_b = receivers()
    other_merchant, url_c = receivers()
    await hub.endpoint(everything, url_a)
    await hub.endpoint(only_alod, url_b, providers=("alod",))
    await hub.endpoint(other_merchant, url_c, merchant_id="mer_b")

    emitted = []
    for shipment in ("shp_1", "shp_2", "shp_3"):
        emitted += await hub.emit(shipment, count=4)
    emitted += await hub.emit("shp_4", provider="alod", count=3)

    await eventually(lambda: len(everything.accepted()) >= 15, 20, "all 15 events at the catch-all endpoint")
    await eventually(lambda: len(only_alod.accepted()) >= 3, 20, "the 3 alod events")
    await hub.dispatcher.reclaim()  # nothing left behind to reclaim, nothing delivered twice

    assert sorted(everything.accepted_ids()) == sorted(e["id"] for e in emitted)
    assert sorted(only_alod.accepted_ids()) == sorted(e["id"] for e in emitted if e["data"]["provider"] == "alod")
    assert other_merchant.requests == []
    assert everything.unverified == only_alod.unverified == 0
    for shipment in ("shp_1", "shp_2", "shp_3"):
        assert sequences(everything.accepted(), shipment) == [1, 2, 3, 4]
    assert len({r.msg_id for r in everything.accepted()}) == 15


async def test_a_failing_endpoint_gets_everything_in_order_with_the_same_webhook_id(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    def flaky(count: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
        return (500, {}, 0.0) if count <= 2 and event["sequence"] % 2 == 1 else (200, {}, 0.0)

    receiver, url = receivers(flaky)
    await hub.endpoint(receiver, url)
    emitted = await hub.emit("shp_1", count=4) + await hub.emit("shp_2", count=3)

    await eventually(lambda: len(receiver.accepted()) >= 7, 30, "every event accepted after retries")
    assert sorted(receiver.accepted_ids()) == sorted(e["id"] for e in emitted)
    assert sequences(receiver.accepted(), "shp_1") == [1, 2, 3, 4]
    assert sequences(receiver.accepted(), "shp_2") == [1, 2, 3]
    first = [r for r in receiver.requests if r.event["sequence"] == 1 and r.event["partitionkey"] == "shp_1"]
    assert [r.status for r in first] == [500, 500, 200] and len({r.msg_id for r in first}) == 1


async def test_429_with_retry_after_and_timeouts_wait_longer_before_the_next_try(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    def throttling(count: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
        return (429, {"retry-after": "2"}, 0.0) if count == 1 else (200, {}, 0.0)

    def sluggish(count: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
        return (200, {}, 3.0) if count == 1 else (200, {}, 0.0)  # the first try outlasts the 1 s timeout

    throttled, url_t = receivers(throttling)
    slow, url_s = receivers(sluggish)
    ep_t = await hub.endpoint(throttled, url_t)
    ep_s = await hub.endpoint(slow, url_s)
    await hub.emit("shp_1")

    deliveries = Deliveries(hub.redis, hub.settings.webhook_retention_s)
    for endpoint, min_wait_ms, first_error in ((ep_t, 2000, "HTTP 429"), (ep_s, 1000, "timed out")):
        await eventually(lambda e=endpoint: _succeeded(hub, e.id), 30, f"delivery to {endpoint.url}")
        (delivery,), _ = await deliveries.page(endpoint.id, limit=10)
        first, second = await deliveries.attempts(delivery.id)
        assert first["error"] == first_error and second["status"] == 200
        waited_ms = second["started_ms"] - first["started_ms"] - first["latency_ms"]
        assert waited_ms >= min_wait_ms - 50  # not the schedule's 0.2 s
    assert len(throttled.accepted()) == len(slow.accepted()) == 1


async def _succeeded(hub: Hub, endpoint_id: str) -> bool:
    return await delivery_status(hub, endpoint_id) == ["succeeded"]
