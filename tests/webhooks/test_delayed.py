"""A merchant's endpoint subscribed to ``shipment.delayed`` receives it, once, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub import shipments
from hub.delays import DelayChecker
from hub.ingest import Ingestor
from hub.observations import Channel
from tests.conftest import ROOT
from tests.webhooks.conftest import Hub, Receiver, eventually

TRACKING = (ROOT / "tests/fixtures/hld/tracking_on_the_way.json").read_bytes()  # delivery_eta 11:15Z


async def test_an_endpoint_subscribed_to_delays_receives_the_late_shipment_once(
    hub: Hub, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    late_only, url = receivers()
    everything, url_all = receivers()
    await hub.endpoint(late_only, url, event_types=("shipment.delayed",))
    await hub.endpoint(everything, url_all)
    shipment, _ = await shipments.register(hub.redis, "mer_a", "hld", "HLD67890ABCDEF")
    ingestor = Ingestor(hub.redis, hub.settings, hub.store)
    try:
        await ingestor.ingest_raw("hld", "tracking", TRACKING, Channel.POLL, ref="HLD67890ABCDEF")
    finally:
        await ingestor.close()
    checker = DelayChecker(hub.redis, hub.settings, hub.store)
    late = datetime.fromisoformat("2026-04-04T11:30:00+00:00")
    assert [(await checker.check(shipment.id, late)).result for _ in range(2)] == ["published", "duplicate"]

    await eventually(lambda: late_only.accepted(), 20, "the delay at the subscribed endpoint")
    await eventually(
        lambda: any(r.event["type"] == "shipment.delayed" for r in everything.accepted()), 20, "the catch-all"
    )
    [received] = late_only.accepted()
    assert received.event["type"] == "shipment.delayed"
    assert received.event["data"]["shipment_id"] == shipment.id
    assert received.event["data"]["eta"] == "2026-04-04T11:15:00.000Z"
    types = [r.event["type"] for r in everything.accepted()]
    assert types.count("shipment.delayed") == 1
