"""Observations bound to a shipment become CloudEvents 1.0 (structured JSON).

The event ``id`` is derived from the change itself, so the same change seen twice (a
poll and a push, a provider retry) gets the same id and is recorded once. ``sequence``
and ``data.previous_status`` depend on what the shipment already holds, so they are
filled in by the append script (:mod:`hub.streams.append`); this module builds the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, NotRequired, TypedDict

from hub.model.observation import Channel, EventType, Observation
from hub.model.times import rfc3339

SPECVERSION = "1.0"
# Not part of the event: how the append script orders a status change, dropped when written.
ORDERING: Final = "_ordering"


class ProviderStatusData(TypedDict):
    code: str | int | None  # exactly as sent: "050000" stays a string, HLD's 25 a number
    text: str | None


class LocationData(TypedDict):
    lat: float
    lng: float


class CourierData(TypedDict):
    name: str | None
    phone: str | None
    id: str | None


class StopData(TypedDict):
    index: int
    kind: str  # origin | destination | return
    status: str  # the provider's word: arrived | handled | pending
    location: LocationData | None
    id: str | None


class EventData(TypedDict):
    """``data`` of a shipment event (hub/schema/event.schema.json)."""

    shipment_id: str
    merchant_id: str
    merchant_ref: str | None
    provider: str
    provider_ref: str
    tracking_url: str | None  # the recipient's tracking link: merchant-facing only, never public
    status: str | None  # unified status (hub.model.status.Status)
    provider_status: ProviderStatusData | None
    location: LocationData | None
    courier: CourierData | None
    eta: str | None  # RFC 3339, UTC
    stop: StopData | None
    channel: str  # webhook | pusher | poll
    previous_status: NotRequired[str | None]  # set when appended
    stale: NotRequired[bool]  # set when appended


class Ordering(TypedDict):
    """How the append script (hub.streams.append) orders a status change: docs/ordering.md."""

    after_ms: int  # the change's time; for an undated one, the latest instant its payload knows
    undated: bool
    cannot_follow: list[str]  # the flow's codes it may not follow


class CloudEvent(TypedDict):
    """A normalized shipment event: CloudEvents 1.0, structured JSON."""

    specversion: str
    id: str  # evt_ + 32 hex, derived from the change itself
    source: str  # /providers/<provider>
    type: str  # hub.model.observation.EventType
    subject: str  # shipments/<shipment_id>
    time: str  # when it happened, RFC 3339, UTC
    datacontenttype: str
    recordedtime: str  # when the hub received it
    partitionkey: str  # the shipment id
    sequence: NotRequired[int]  # per shipment, gap-free: set when appended
    data: EventData
    _ordering: NotRequired[Ordering]  # not part of the event: dropped when written


@dataclass(frozen=True)
class ShipmentRef:
    """The registered shipment an observation belongs to."""

    id: str
    merchant_id: str
    provider: str
    provider_ref: str
    merchant_ref: str | None = None
    tracking_url: str | None = None  # {HUB_PUBLIC_URL}/track/{tracking_token}


def event_id(observation: Observation, shipment_id: str) -> str:
    """Deterministic id: provider, shipment, type, provider code, time, and position or stop.

    The position counts only for a location update: a status change reported with a
    position by one channel and without by another (HLD poll vs. push) is one change. An
    undated observation's time is the latest instant its payload knows, so the same history
    polled again gives the same id, and the same code reached again after newer history a new one.
    """
    position = ""
    if observation.type == EventType.LOCATION_UPDATED and observation.location:
        position = f"{observation.location.lat:.6f},{observation.location.lng:.6f}"
    parts = [
        observation.provider,
        shipment_id,
        observation.type.value,
        str(observation.provider_status.code) if observation.provider_status else "",
        ("after " if observation.undated else "") + rfc3339(observation.time),
        position,
        f"{observation.stop.index}:{observation.stop.status}" if observation.stop else "",
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def build(
    observation: Observation,
    shipment: ShipmentRef,
    channel: Channel,
    recordedtime: str,
    cannot_follow: frozenset[str] = frozenset(),
) -> CloudEvent:
    """The CloudEvent without ``sequence`` and ``data.previous_status`` (set when appended).

    ``recordedtime`` is RFC 3339 text, formatted once for all the events of one payload. An
    undated observation is dated when the hub learned of it (never into the past); the append
    script orders it by the provider's flow: ``cannot_follow`` holds the codes it may not
    follow (:meth:`hub.model.flow.Flow.cannot_follow`), ``docs/ordering.md`` says how.
    """
    data: EventData = {
        "shipment_id": shipment.id,
        "merchant_id": shipment.merchant_id,
        "merchant_ref": observation.merchant_ref or shipment.merchant_ref,
        "provider": observation.provider,
        "provider_ref": shipment.provider_ref,
        "tracking_url": shipment.tracking_url,
        "status": observation.status.value if observation.status else None,
        "provider_status": _plain(observation.provider_status),
        "location": _plain(observation.location),
        "courier": _plain(observation.courier),
        "eta": rfc3339(observation.eta) if observation.eta else None,
        "stop": _plain(observation.stop),
        "channel": channel.value,
    }
    event: CloudEvent = {
        "specversion": SPECVERSION,
        "id": event_id(observation, shipment.id),
        "source": f"/providers/{observation.provider}",
        "type": observation.type.value,
        "subject": f"shipments/{shipment.id}",
        "time": recordedtime if observation.undated else rfc3339(observation.time),
        "datacontenttype": "application/json",
        "recordedtime": recordedtime,
        "partitionkey": shipment.id,
        "data": data,
    }
    if observation.undated or cannot_follow:
        event[ORDERING] = {
            "after_ms": int(observation.time.timestamp() * 1000),
            "undated": observation.undated,
            "cannot_follow": sorted(cannot_follow),
        }
    return event


def _plain(value: Any) -> Any:
    """A dataclass as a JSON-ready dict (``dataclasses.asdict`` is slow in this hot path)."""
    if value is None:
        return None
    return {
        key: _plain(item) if hasattr(item, "__dataclass_fields__") else item
        for key, item in vars(value).items()
    }


def split_for_append(event: CloudEvent) -> tuple[str, str]:
    """The event's JSON as two open-ended pieces the append script closes.

    ``head`` is the envelope without its closing brace; ``body`` is ``data`` without its
    closing brace. The script writes ``head,"sequence":N,"data":body,"previous_status":..}}``.
    """
    envelope = {key: value for key, value in event.items() if key not in ("data", ORDERING)}
    head = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)[:-1]
    body = json.dumps(event["data"], separators=(",", ":"), ensure_ascii=False)[:-1]
    return head, body


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of a normalized event (``hub/schema/event.schema.json``)."""
    text = resources.files("hub").joinpath("schema/event.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded
