"""Which endpoints an event goes to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.webhooks.endpoints import Endpoint, State


def matches(endpoint: Endpoint, event: dict[str, Any], recorded_ms: int) -> bool:
    """The merchant's own, subscribed, and recorded after the endpoint existed (no back-fill)."""
    data = event.get("data") or {}
    return (
        endpoint.state is not State.DISABLED
        and endpoint.merchant_id == data.get("merchant_id")
        and recorded_ms >= endpoint.created_ms
        and (not endpoint.event_types or event.get("type") in endpoint.event_types)
        and (not endpoint.providers or data.get("provider") in endpoint.providers)
        and (not endpoint.shipment_ids or data.get("shipment_id") in endpoint.shipment_ids)
    )


def subscribers(endpoints: Iterable[Endpoint], event: dict[str, Any], recorded_ms: int) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints if matches(endpoint, event, recorded_ms)]
