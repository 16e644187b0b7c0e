"""What each audience may see of an event or a shipment.

A tracking token is public (it is in a link sent to the recipient), so its view leaves
out everything that identifies the merchant's business (merchant and provider ids,
internal shipment ids, how the event reached the hub) and masks phone numbers unless
``HUB_LIVE_SHOW_PHONES`` is set. A merchant sees the CloudEvent as published.
"""

from __future__ import annotations

from typing import Any

from hub.registry.shipments import Shipment

_PUBLIC_DATA = ("status", "previous_status", "provider", "location", "courier", "eta", "stop", "stale")
_PUBLIC_ENVELOPE = ("id", "type", "time", "sequence")
SHOWN_DIGITS = 2


def mask_phone(phone: str) -> str:
    """``+989121234567`` -> ``***********67``: enough to recognise, not to call."""
    digits = sum(ch.isdigit() for ch in phone)
    seen = 0
    masked = []
    for ch in phone:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > digits - SHOWN_DIGITS else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def public_event(event: dict[str, Any], show_phones: bool) -> dict[str, Any]:
    data = event.get("data") or {}
    public_data = {key: data.get(key) for key in _PUBLIC_DATA}
    public_data["courier"] = public_courier(data.get("courier"), show_phones)
    return {**{key: event.get(key) for key in _PUBLIC_ENVELOPE}, "data": public_data}


def public_courier(courier: dict[str, Any] | None, show_phones: bool) -> dict[str, Any] | None:
    if not courier:
        return None
    phone = courier.get("phone")
    return {"name": courier.get("name"), "phone": phone if show_phones or not phone else mask_phone(phone)}


def public_shipment(shipment: Shipment, show_phones: bool) -> dict[str, Any]:
    state = shipment.state
    return {
        "provider": shipment.provider,
        "status": state.get("status"),
        "location": state.get("location"),
        "courier": public_courier(state.get("courier"), show_phones),
        "eta": state.get("eta"),
        "sequence": state.get("sequence"),
    }


def merchant_shipment(shipment: Shipment) -> dict[str, Any]:
    return shipment.to_json()
