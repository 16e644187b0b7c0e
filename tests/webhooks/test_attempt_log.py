"""Each attempt in a delivery's log: status, latency and a bounded excerpt of what the receiver answered."""

from __future__ import annotations

from typing import Any

from hub.webhooks import attempt_log, manage
from hub.webhooks.attempt_log import EXCERPT_BYTES, excerpt
from hub.webhooks.delivery import DeliveryStatus, now_ms
from tests.webhooks.conftest import Hub, eventually


def test_an_excerpt_is_bounded_whole_characters_with_controls_replaced() -> None:
    cut = excerpt("é" * 1000)
    assert len(cut.encode()) <= EXCERPT_BYTES + 3 and cut.endswith("\u2026")
    assert excerpt("a\x00b\ud800c\nd") == "a\ufffdb\ufffdc\nd"
    assert excerpt("") == ""


def test_a_record_of_the_wrong_shape_is_shown_not_raised() -> None:
    shown = attempt_log.logged({"status": True, "latency_ms": "x", "body": 5, "error": ["no"]}, 3)
    assert (shown.number, shown.status, shown.latency_ms, shown.error, shown.excerpt) == (
        3,
        None,
        0,
        None,
        "5",
    )


async def test_every_attempt_is_logged_and_a_retry_adds_one(hub: Hub, receivers: Any) -> None:
    failing = {"on": True}

    def behaviour(count: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
        return (500 if failing["on"] else 204), {}, 0.0

    receiver, url = receivers(behaviour)

    endpoint = await hub.endpoint(receiver, url)
    deliveries = manage.delivery_queue(hub.redis, hub.settings)
    started_ms = now_ms()
    test = await manage.send_test(deliveries, endpoint)
    hub.engine.wake()

    async def failed() -> bool:
        return (await deliveries.get(test.id)).status is DeliveryStatus.FAILED

    await eventually(failed, 20, "the test delivery to fail after its retries")
    [log] = await attempt_log.attempt_logs(hub.redis, [await deliveries.get(test.id)])
    assert [a.number for a in log] == list(range(1, len(log) + 1)) and len(log) >= 2
    assert all(a.status == 500 and a.latency_ms >= 0 and a.excerpt == "no" for a in log)

    failing["on"] = False
    recovered = await manage.recover_failed(deliveries, endpoint, started_ms, now_ms())
    assert [d.id for d in recovered] == [test.id]
    hub.engine.wake()

    async def succeeded() -> bool:
        return (await deliveries.get(test.id)).status is DeliveryStatus.SUCCEEDED

    await eventually(succeeded, 10, "the recovered delivery to succeed")
    [after] = await attempt_log.attempt_logs(hub.redis, [await deliveries.get(test.id)])
    assert len(after) == len(log) + 1 and after[-1].status == 204
