"""What a merchant does to its endpoints and deliveries, for every caller (the JSON API and the console).

Each action is a function of the stores, so the API route and the console page that offer it
behave the same and neither holds logic the other lacks.
"""

from __future__ import annotations

import secrets
from typing import Any

from hub.errors import Conflict
from hub.settings import Settings
from hub.webhooks import endpoints, notices
from hub.webhooks.delivery import Delivery, DeliveryStatus, now_ms
from hub.webhooks.endpoints import Endpoint, State
from hub.webhooks.outgoing import Outgoing
from hub.webhooks.queue import Deliveries
from hub.webhooks.signing import SecretBox

MAX_OVERLAP_S = 7 * 86400


def secret_box(settings: Settings) -> SecretBox:
    """What seals and opens the endpoints' signing secrets (HUB_WEBHOOK_MASTER_KEYS)."""
    return SecretBox(tuple(key.reveal() for key in settings.webhook.master_keys))


def delivery_queue(redis: Any, settings: Settings) -> Deliveries:
    return Deliveries(redis, settings.webhook.retention_s)


async def pause(redis: Any, endpoint: Endpoint) -> Endpoint:
    """Deliveries wait until resumed; a disabled endpoint is resumed instead (:class:`Conflict`)."""
    if endpoint.state is State.DISABLED:
        raise Conflict("endpoint is disabled; resume it instead")
    return await endpoints.save(redis, endpoint, state=State.PAUSED)


async def resume(redis: Any, deliveries: Deliveries, endpoint: Endpoint) -> Endpoint:
    """Active again (also after a disable); waiting deliveries are due at once."""
    updated = await endpoints.save(
        redis, endpoint, state=State.ACTIVE, disabled_reason=None, disabled_ms=None, failing_since_ms=None
    )
    await deliveries.wake_endpoint(endpoint.id)
    return updated


async def send_test(deliveries: Deliveries, endpoint: Endpoint) -> Delivery:
    """A ``webhook.test`` event queued for the endpoint; returns its delivery."""
    event = notices.test_event(endpoint, now_ms(), secrets.token_hex(8))
    ident = await deliveries.create(endpoint.id, endpoint.merchant_id, Outgoing.of(event))
    return await deliveries.get(ident)


async def retry(deliveries: Deliveries, ident: str, merchant_id: str | None) -> Delivery:
    """Send one delivery again (same ``webhook-id``); NotFound for another merchant's."""
    delivery = await deliveries.get(ident, merchant_id)
    await deliveries.requeue(delivery)
    return await deliveries.get(delivery.id)


async def recover_failed(
    deliveries: Deliveries, endpoint: Endpoint, since_ms: int, until_ms: int
) -> list[Delivery]:
    """Send again every failed delivery of the endpoint created in ``[since_ms, until_ms]``, in order."""
    failed = [
        d
        for d in await deliveries.in_range(endpoint.id, since_ms, until_ms)
        if d.status is DeliveryStatus.FAILED
    ]
    for delivery in sorted(failed, key=lambda d: (d.lane, d.sequence)):
        await deliveries.requeue(delivery)
    return failed
