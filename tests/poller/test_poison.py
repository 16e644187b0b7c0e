"""A poll answer the hub cannot take: dead-lettered as received, never a stuck worker."""

from __future__ import annotations

from redis.asyncio import Redis

from hub import keys
from hub.clients import http_client
from hub.ingest import deadletter
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators, status_codes
from workers.poll import Poller


async def test_answers_with_a_lone_surrogate_are_dead_lettered_as_received_then_polling_goes_on(
    redis: Redis, poll_settings: Settings, emulators: Emulators
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "all24", "HSPOISON1")
    emulators.faults("all24", lone_surrogate=3)  # all24's event names end in "\ud800" (JSON-escaped)
    async with http_client(poll_settings) as http:
        poller = Poller(redis, poll_settings.replace(poison_attempts_max=3), http)
        try:
            outcomes = [(await poller.poll_one(shipment.id)).result for _ in range(3)]
            letters = await deadletter.recent(redis)
            healthy = await poller.poll_one(shipment.id)  # the provider's next answer is fine
        finally:
            await poller.close()

    assert outcomes == ["failed"] * 3
    # The guarded reader refuses each answer at once (a typed refusal, like any unreadable answer):
    # one dead letter per answer, each as received.
    assert len(letters) == 3
    for letter in letters:
        assert (letter.provider, letter.ref, letter.channel) == ("all24", "HSPOISON1", "poll")
        assert letter.reason.startswith("body refused (lone_surrogate)")
        assert b"\\ud800" in letter.body  # the answer as received
    assert healthy.result == "polled" and await status_codes(redis, shipment.id)
    state = await redis.hgetall(keys.poll_state(shipment.id))
    assert state["poison_failures"] == "0" and state["failures"] == "0"
