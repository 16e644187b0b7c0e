"""Which endpoints an event goes to."""

from __future__ import annotations

from collections.abc import Iterable

from hub.webhooks.endpoints import Endpoint, State
from hub.webhooks.outgoing import Outgoing


def matches(endpoint: Endpoint, event: Outgoing, recorded_ms: int) -> bool:
    """The merchant's own, subscribed, and recorded after the endpoint existed (no back-fill)."""
    return (
        endpoint.state is not State.DISABLED
        and endpoint.merchant_id == event.merchant_id
        and recorded_ms >= endpoint.created_ms
        and (not endpoint.event_types or event.type in endpoint.event_types)
        and (not endpoint.providers or event.provider in endpoint.providers)
        and (not endpoint.shipment_ids or event.shipment_id in endpoint.shipment_ids)
    )


def subscribers(endpoints: Iterable[Endpoint], event: Outgoing, recorded_ms: int) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints if matches(endpoint, event, recorded_ms)]
