"""``webhook.endpoint_disabled``: the one event about the hub itself rather than a shipment.

Shape (CloudEvents 1.0, like shipment events but without ``sequence``/``partitionkey``)::

    {"specversion": "1.0", "id": "evt_…", "type": "webhook.endpoint_disabled",
     "source": "/webhooks", "subject": "webhooks/endpoints/<endpoint_id>",
     "time": "<RFC 3339>", "datacontenttype": "application/json",
     "data": {"endpoint_id", "merchant_id", "url", "reason", "disabled_at", "failing_since"}}

It goes to the merchant's other endpoints that subscribe to every type or name this one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from hub.model.times import rfc3339
from hub.webhooks.endpoints import Endpoint, State
from hub.webhooks.outgoing import Outgoing
from hub.webhooks.queue import Deliveries

ENDPOINT_DISABLED = "webhook.endpoint_disabled"
TEST = "webhook.test"


def _time(ms: int | None) -> str | None:
    return rfc3339(datetime.fromtimestamp(ms / 1000, UTC)) if ms else None


def endpoint_disabled(endpoint: Endpoint, reason: str, disabled_ms: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{endpoint.id}\x1f{disabled_ms}".encode()).hexdigest()[:32]
    return {
        "specversion": "1.0",
        "id": f"evt_{digest}",
        "source": "/webhooks",
        "type": ENDPOINT_DISABLED,
        "subject": f"webhooks/endpoints/{endpoint.id}",
        "time": _time(disabled_ms),
        "datacontenttype": "application/json",
        "data": {
            "endpoint_id": endpoint.id,
            "merchant_id": endpoint.merchant_id,
            "url": endpoint.url,
            "reason": reason,
            "disabled_at": _time(disabled_ms),
            "failing_since": _time(endpoint.failing_since_ms),
        },
    }


def test_event(endpoint: Endpoint, sent_ms: int, nonce: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"evt_test_{nonce}",
        "source": "/webhooks",
        "type": TEST,
        "subject": f"webhooks/endpoints/{endpoint.id}",
        "time": _time(sent_ms),
        "datacontenttype": "application/json",
        "data": {"endpoint_id": endpoint.id, "merchant_id": endpoint.merchant_id, "message": "test event"},
    }


async def tell_merchant(
    deliveries: Deliveries, disabled: Endpoint, others: list[Endpoint], event: dict[str, Any]
) -> int:
    """Queue the notice for the merchant's other live endpoints; returns how many."""
    outgoing = Outgoing.of(event)
    targets = [
        (e.id, e.merchant_id, outgoing)
        for e in others
        if e.id != disabled.id
        and e.merchant_id == disabled.merchant_id
        and e.state is not State.DISABLED
        and (not e.event_types or ENDPOINT_DISABLED in e.event_types)
    ]
    return await deliveries.create_many(targets)
