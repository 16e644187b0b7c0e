"""What the console shows of a shipment: pure functions from the registry's shipment and its events.

The merchant sees everything the API gives it (phones unmasked, refs, the raw provider status);
these only shape it for the pages and the fleet map's JSON.
"""

from __future__ import annotations

from typing import Any

from hub.registry.shipments import Shipment

LATE_LOOKBACK_EVENTS = 20  # the newest events read per shipment to know whether it is late


def marker(shipment: Shipment, late: str | None) -> dict[str, Any]:
    """One fleet map marker: where, what state, and where a click goes."""
    courier = shipment.state.get("courier") or {}
    return {
        "id": shipment.id,
        "merchant_ref": shipment.merchant_ref,
        "provider": shipment.provider,
        "provider_ref": shipment.provider_ref,
        "status": shipment.status,
        "location": shipment.state.get("location"),
        "eta": shipment.state.get("eta"),
        "sequence": shipment.state.get("sequence", 0),
        "late_eta": late,
        "courier": courier.get("name"),
        "url": f"/console/shipments/{shipment.id}",
    }


def timeline(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event, newest first, with the provider's own status as it sent it."""
    rows = []
    for event in reversed(events):
        data = event.get("data") or {}
        raw = data.get("provider_status") or {}
        rows.append(
            {
                "time": event.get("time"),
                "type": str(event.get("type", "")).removeprefix("shipment."),
                "status": data.get("status"),
                "provider_code": raw.get("code"),
                "provider_text": raw.get("text"),
                "channel": data.get("channel"),
                "stale": bool(data.get("stale")),
                "sequence": event.get("sequence"),
                "location": data.get("location"),
                "eta": data.get("eta"),
            }
        )
    return rows
