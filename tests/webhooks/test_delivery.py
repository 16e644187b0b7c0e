"""Deliveries to real receivers that verify every request with the official standardwebhooks package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub import keys
from hub.settings import Settings
from hub.webhooks import endpoints
from hub.webhooks.endpoints import State
from hub.webhooks.queue import Deliveries
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
    assert sorted(only_alod.accepted_ids()) == sorted(
        e["id"] for e in emitted if e["data"]["provider"] == "alod"
    )
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

    deliveries = Deliveries(hub.redis, hub.settings.webhook.retention_s)
    for endpoint, min_wait_ms, first_error in ((ep_t, 2000, "HTTP 429"), (ep_s, 1000, "timed out")):
        await eventually(lambda e=endpoint: _succeeded(hub, e.id), 30, f"delivery to {endpoint.url}")
        (delivery,), _ = await deliveries.page(endpoint.id, limit=10)
        first, second = await deliveries.attempts(delivery)
        assert first["error"] == first_error and second["status"] == 200
        waited_ms = second["started_ms"] - first["started_ms"] - first["latency_ms"]
        assert waited_ms >= min_wait_ms - 50  # not the schedule's 0.2 s
    assert len(throttled.accepted()) == len(slow.accepted()) == 1


async def _succeeded(hub: Hub, endpoint_id: str) -> bool:
    return await delivery_status(hub, endpoint_id) == ["succeeded"]


async def test_410_disables_the_endpoint_and_tells_the_merchant_on_its_other_endpoints(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    gone, url_gone = receivers(lambda count, event: (410, {}, 0.0))
    other, url_other = receivers()
    unrelated, url_unrelated = receivers()
    ep_gone = await hub.endpoint(gone, url_gone)
    await hub.endpoint(other, url_other, event_types=("webhook.endpoint_disabled",))
    await hub.endpoint(unrelated, url_unrelated, merchant_id="mer_b")
    await hub.emit("shp_1", count=2)

    await eventually(lambda: other.accepted(), 20, "the notice on the merchant's other endpoint")
    notice = other.accepted()[0].event
    assert notice["type"] == "webhook.endpoint_disabled" and notice["source"] == "/webhooks"
    assert notice["data"]["endpoint_id"] == ep_gone.id and "410" in notice["data"]["reason"]
    stored = await endpoints.get(hub.redis, ep_gone.id)
    assert stored.state is State.DISABLED and "410" in (stored.disabled_reason or "")
    await eventually(lambda: _all(hub, ep_gone.id, "failed"), 10, "both deliveries failed (recoverable)")
    assert len(gone.requests) == 1  # the second event was never sent to a disabled endpoint
    assert unrelated.requests == []


async def test_an_endpoint_failing_for_the_whole_window_is_disabled(
    redis: Redis, wh_settings: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    down, url = receivers(lambda count, event: (503, {}, 0.0))
    running = Hub(redis, wh_settings.replace(webhook_disable_after_s=0.5))
    await running.start()
    try:
        endpoint = await running.endpoint(down, url)
        await running.emit("shp_1")
        await eventually(
            lambda: _state(running, endpoint.id, "disabled"),
            20,
            "the endpoint disabled after 0.5 s of failures",
        )
        stored = await endpoints.get(redis, endpoint.id)
        assert (stored.disabled_reason or "").startswith("failing continuously")
    finally:
        await running.close()


async def test_a_dead_or_slow_endpoint_never_delays_a_healthy_one(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    slow, url_slow = receivers(
        lambda count, event: (200, {}, 4.0)
    )  # 2 s in the issue; margin for a loaded box
    fine, url_fine = receivers()
    dead_url = "http://127.0.0.1:9/hook"  # discard port: nothing listens, connections are refused
    await hub.endpoint(slow, url_slow, merchant_id="mer_slow")
    await hub.endpoint(Receiver(), dead_url, merchant_id="mer_dead")
    await hub.endpoint(fine, url_fine, merchant_id="mer_fine")
    for n in range(5):
        await hub.emit(f"shp_slow_{n}", merchant_id="mer_slow", count=2)
        await hub.emit(f"shp_dead_{n}", merchant_id="mer_dead", count=2)

    emitted = []
    for n in range(5):
        emitted += await hub.emit(f"shp_fine_{n}", merchant_id="mer_fine", count=2)
    await eventually(lambda: len(fine.accepted()) >= 10, 20, "the healthy endpoint's 10 events")
    assert slow.accepted() == []  # all of it happened while the slow endpoint still sat on its first requests
    assert sorted(fine.accepted_ids()) == sorted(e["id"] for e in emitted)


async def test_during_rotation_both_secrets_verify_and_afterwards_only_the_new(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    endpoint = await hub.endpoint(receiver, url)
    old_secret = receiver.secrets[0]
    rotated, new_secret = await endpoints.rotate(hub.redis, hub.box, endpoint, overlap_s=60)
    await hub.emit("shp_1")
    await eventually(lambda: receiver.accepted(), 20, "a delivery signed during the overlap")
    during = receiver.accepted()[0]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old_secret).verify(during.body, during.headers)
    assert Webhook(new_secret).verify(during.body, during.headers)

    _, newest = await endpoints.rotate(hub.redis, hub.box, rotated, overlap_s=0)
    receiver.secrets.append(newest)
    await hub.emit("shp_1")
    await eventually(lambda: len(receiver.accepted()) == 2, 20, "a delivery after the overlap")
    after = receiver.accepted()[1]
    assert Webhook(newest).verify(after.body, after.headers)
    for retired in (old_secret, new_secret):
        with pytest.raises(WebhookVerificationError):
            Webhook(retired).verify(after.body, after.headers)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # an address literal, and a name to resolve
async def test_a_private_address_is_refused_without_an_allowlist(
    host: str, redis: Redis, wh_settings: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    running = Hub(redis, wh_settings.replace(webhook_allow_networks=(), webhook_retry_schedule_s=()))
    await running.start()
    try:
        endpoint = await running.endpoint(receiver, url.replace("127.0.0.1", host))
        await running.emit("shp_1")
        await eventually(lambda: _all(running, endpoint.id, "failed"), 20, "the delivery refused")
        (delivery,), _ = await running.engine.deliveries.page(endpoint.id, limit=1)
        (attempt,) = await running.engine.deliveries.attempts(delivery)
        assert attempt["error"].startswith("refused:") and "internal address" in attempt["error"]
        assert receiver.requests == []
    finally:
        await running.close()


async def _all(hub: Hub, endpoint_id: str, status: str) -> bool:
    found = await delivery_status(hub, endpoint_id)
    return bool(found) and set(found) == {status}


async def _state(hub: Hub, endpoint_id: str, state: str) -> bool:
    return (await endpoints.get(hub.redis, endpoint_id)).state.value == state


async def test_entries_a_crashed_dispatcher_read_but_never_acknowledged_are_reclaimed(
    redis: Redis, wh_settings: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    running = Hub(redis, wh_settings)
    await running.dispatcher.ensure_group()
    await running.endpoint(receiver, url)
    emitted = await running.emit("shp_1", count=3)
    # What a dispatcher killed between reading and acknowledging leaves behind:
    read = await redis.xreadgroup(keys.WEBHOOK_GROUP, "crashed-dispatcher", {keys.EVENTS: ">"}, count=10)
    assert len(read[0][1]) == 3
    await running.start()
    try:
        await eventually(lambda: len(receiver.accepted()) == 3, 20, "the 3 reclaimed events delivered")
        assert receiver.accepted_ids() == [e["id"] for e in emitted]
        assert (await redis.xpending(keys.EVENTS, keys.WEBHOOK_GROUP))["pending"] == 0
    finally:
        await running.close()


async def test_a_paused_endpoint_keeps_its_deliveries_and_gets_them_in_order_on_resume(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers()
    endpoint = await hub.endpoint(receiver, url)
    paused = await endpoints.save(hub.redis, endpoint, state=State.PAUSED)
    emitted = await hub.emit("shp_1", count=3)
    await eventually(lambda: _all(hub, endpoint.id, "pending"), 10, "the deliveries queued")
    assert receiver.requests == []
    await endpoints.save(hub.redis, paused, state=State.ACTIVE)
    await hub.engine.deliveries.wake_endpoint(endpoint.id)
    await eventually(lambda: len(receiver.accepted()) == 3, 20, "the 3 events after resume")
    assert receiver.accepted_ids() == [e["id"] for e in emitted]
    (delivery, *_), _ = await hub.engine.deliveries.page(endpoint.id, limit=3)
    assert len(await hub.engine.deliveries.attempts(delivery)) == 1  # waiting was not an attempt


async def test_the_per_endpoint_throttle_caps_requests_in_flight(
    redis: Redis, wh_settings: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    receiver, url = receivers(lambda count, event: (200, {}, 0.2))
    running = Hub(redis, wh_settings.replace(webhook_max_in_flight=2))
    await running.start()
    try:
        await running.endpoint(receiver, url)
        for n in range(8):  # 8 shipments: 8 lanes that could all go at once
            await running.emit(f"shp_{n}")
        await eventually(lambda: len(receiver.accepted()) == 8, 30, "all 8 delivered, two at a time")
        assert receiver.most_in_flight == 2
    finally:
        await running.close()
