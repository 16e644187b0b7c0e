"""A shipment's journey as its events tell it: the stops' latest word, the trail, whether it is late.

Pure functions shared by the recipient's page (``/v1/track/{token}``) and the merchant console,
so both say the same thing about the same shipment.
"""

from __future__ import annotations

from typing import Any

from hub.model.observation import EventType
from hub.registry.shipments import Shipment


def late_eta(shipment: Shipment, events: list[dict[str, Any]]) -> str | None:
    """The ETA a ``shipment.delayed`` said had passed, while it is still the ETA and unfinished."""
    eta = shipment.state.get("eta")
    delayed = (event for event in events if event.get("type") == EventType.DELAYED.value)
    reported = {(event.get("data") or {}).get("eta") for event in delayed}
    return eta if eta and eta in reported and not shipment.terminal else None


def stops(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest word on every stop, by index."""
    latest: dict[int, dict[str, Any]] = {}
    for event in events:
        stop = (event.get("data") or {}).get("stop")
        if stop:
            latest[int(stop["index"])] = {**stop, "time": event.get("time")}
    return [latest[index] for index in sorted(latest)]


def trail(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The courier's positions, oldest first."""
    return [
        {**data["location"], "time": event.get("time")}
        for event in events
        if event.get("type") == EventType.LOCATION_UPDATED.value
        and (data := event.get("data") or {}).get("location")
    ]
