"""What a normalizer sees in a provider payload, before it is bound to a shipment.

Normalizers are pure: they turn one raw payload into a list of :class:`Observation`.
The hub then binds each observation to a registered shipment and appends it as a
CloudEvent (see :mod:`hub.events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hub.model.status import Status


class EventType(StrEnum):
    STATUS_CHANGED = "shipment.status_changed"
    LOCATION_UPDATED = "shipment.location_updated"
    STOP_UPDATED = "shipment.stop_updated"
    DELAYED = "shipment.delayed"  # the hub's own: the ETA (plus grace) passed without a terminal status


class Channel(StrEnum):
    WEBHOOK = "webhook"
    PUSHER = "pusher"
    POLL = "poll"
    HUB = "hub"  # the hub itself (the delay checker), not a provider


@dataclass(frozen=True)
class ProviderStatus:
    """The provider's own status, exactly as sent (code may be a number or a word)."""

    code: str | int | None
    text: str | None = None


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float


@dataclass(frozen=True)
class Courier:
    name: str | None = None
    phone: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Stop:
    """One stop of a multi-stop order (Alopeyk addresses)."""

    index: int
    kind: str  # origin | destination | return
    status: str  # arrived | handled | pending (provider words)
    location: Location | None = None
    id: str | None = None


@dataclass(frozen=True)
class Observation:
    """One change a provider reported.

    ``time`` is when it happened (aware, UTC). When the provider did not say (``undated``),
    ``time`` is only the latest instant the payload knows, a lower bound: the hub orders such
    an observation by the provider's flow, not by this time (``docs/ordering.md``).

    ``provider_ref`` is the provider's id for the shipment; ``refs`` holds other ids the
    payload carries (tracking tokens, invoice numbers) so the hub can find the shipment by
    whichever one it was registered under.
    """

    type: EventType
    provider: str
    provider_ref: str
    time: datetime
    status: Status | None = None
    provider_status: ProviderStatus | None = None
    location: Location | None = None
    courier: Courier | None = None
    eta: datetime | None = None
    stop: Stop | None = None
    merchant_ref: str | None = None
    refs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    undated: bool = False

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("Observation.time must be timezone-aware")


# The ``time`` of an observation whose provider gave none (ALOD's ``booking_status``): the hub
# dates it when it receives the payload (:func:`dated`, called by :mod:`hub.ingest`), the
# latest it can have happened, so nothing the provider dated later can look newer than it.
UNDATED = datetime(1, 1, 1, tzinfo=UTC)


def dated(observation: Observation, received_at: datetime) -> Observation:
    """``observation`` with an :data:`UNDATED` time replaced by ``received_at``."""
    return replace(observation, time=received_at) if observation.time == UNDATED else observation
