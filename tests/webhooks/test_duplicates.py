"""Where duplicate deliveries came from after crashes, each pinned down (real Redis, real scripts)."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from hub import keys
from hub.settings import Settings
from hub.webhooks import endpoints
from hub.webhooks.delivery import DeliveryStatus
from hub.webhooks.outgoing import Outgoing
from hub.webhooks.queue import Deliveries
from tests.webhooks.conftest import Hub, Receiver, eventually

LEASE_S = 30.0


async def test_a_late_repeated_finish_does_not_make_the_next_leased_delivery_due_again(
    redis: Redis, wh_settings: Settings
) -> None:
    """A finish written twice (a retried write, a worker finishing after its lease ran out) used to
    make the lane's next delivery due at once while another worker was sending it: sent twice."""
    rig = Hub(redis, wh_settings)
    endpoint, _ = await _endpoint(rig)
    first, second = await rig.emit("shp_1", count=2)
    queue = Deliveries(redis, wh_settings.webhook.retention_s)
    await queue.create_many(
        [(endpoint, "mer_a", Outgoing.of(first)), (endpoint, "mer_a", Outgoing.of(second))]
    )

    claimed, _ = await queue.claim(10, LEASE_S, 0, 0)
    assert len(claimed) == 1  # only the lane's head
    [head] = await queue.get_many([(endpoint, claimed[0].partition("/")[2])])
    await queue.finish(head, retry_at_ms=None, status=DeliveryStatus.SUCCEEDED.value)
    claimed_next, _ = await queue.claim(10, LEASE_S, 0, 0)
    assert len(claimed_next) == 1 and claimed_next != claimed  # the second, now leased

    await queue.finish(head, retry_at_ms=None, status=DeliveryStatus.SUCCEEDED.value)  # the late repeat
    assert (await queue.claim(10, LEASE_S, 0, 0)).members == []  # still leased: nobody sends it again
    due = keys.webhook_due(keys.webhook_partition(endpoint))
    assert await redis.zcard(due) == 1


async def _endpoint(rig: Hub) -> tuple[str, str]:
    endpoint, secret = await endpoints.create(rig.redis, rig.box, "mer_a", "http://127.0.0.1:9/hook")
    return endpoint.id, secret


async def test_a_delivery_whose_lease_ran_out_while_it_was_being_sent_is_not_sent_again_by_its_engine(
    redis: Redis, wh_settings: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    """The lease can run out under a worker that is still sending (a slow endpoint, or its
    outcome waiting for Redis to come back); its own engine used to claim and send it again."""
    settings = wh_settings.replace(webhook_lease_s=0.3, webhook_total_timeout_s=5)
    receiver, url = receivers(lambda count, event: (204, {}, 1.5))
    rig = Hub(redis, settings)
    await rig.endpoint(receiver, url)
    await rig.start()
    try:
        [event] = await rig.emit("shp_slow", count=1)
        await eventually(lambda: event["id"] in receiver.accepted_ids(), 20, "the slow delivery")
        assert list(receiver.arrivals.values()) == [1]
    finally:
        await rig.close()
