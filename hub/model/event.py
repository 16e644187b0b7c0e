"""Observations bound to a shipment become CloudEvents 1.0 (structured JSON).

The event ``id`` is derived from the change itself, so the same change seen twice (a
poll and a push, a provider retry) gets the same id and is recorded once. ``sequence``
and ``data.previous_status`` depend on what the shipment already holds, so they are
filled in by the append script (:mod:`hub.store`); this module builds the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hub.model.observation import Channel, EventType, Observation
from hub.model.times import rfc3339

SPECVERSION = "1.0"


@dataclass(frozen=True)
class ShipmentRef:
    """The registered shipment an observation belongs to."""

    id: str
    merchant_id: str
    provider: str
    provider_ref: str
    merchant_ref: str | None = None


def event_id(observation: Observation, shipment_id: str) -> str:
    """Deterministic id: provider, shipment, type, provider code, time, and position or stop.

    The position counts only for a location update: a status change reported with a
    position by one channel and without by another (HLD poll vs. push) is one change.
    """
    position = ""
    if observation.type == EventType.LOCATION_UPDATED and observation.location:
        position = f"{observation.location.lat:.6f},{observation.location.lng:.6f}"
    parts = [
        observation.provider,
        shipment_id,
        observation.type.value,
        str(observation.provider_status.code) if observation.provider_status else "",
        rfc3339(observation.time),
        position,
        f"{observation.stop.index}:{observation.stop.status}" if observation.stop else "",
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def build(
    observation: Observation, shipment: ShipmentRef, channel: Channel, recordedtime: str
) -> dict[str, Any]:
    """The CloudEvent without ``sequence`` and ``data.previous_status`` (set when appended).

    ``recordedtime`` is RFC 3339 text, formatted once for all the events of one payload.
    """
    data: dict[str, Any] = {
        "shipment_id": shipment.id,
        "merchant_id": shipment.merchant_id,
        "merchant_ref": observation.merchant_ref or shipment.merchant_ref,
        "provider": observation.provider,
        "provider_ref": shipment.provider_ref,
        "status": observation.status.value if observation.status else None,
        "provider_status": _plain(observation.provider_status),
        "location": _plain(observation.location),
        "courier": _plain(observation.courier),
        "eta": rfc3339(observation.eta) if observation.eta else None,
        "stop": _plain(observation.stop),
        "channel": channel.value,
    }
    return {
        "specversion": SPECVERSION,
        "id": event_id(observation, shipment.id),
        "source": f"/providers/{observation.provider}",
        "type": observation.type.value,
        "subject": f"shipments/{shipment.id}",
        "time": rfc3339(observation.time),
        "datacontenttype": "application/json",
        "recordedtime": recordedtime,
        "partitionkey": shipment.id,
        "data": data,
    }


def _plain(value: Any) -> Any:
    """A dataclass as a JSON-ready dict (``dataclasses.asdict`` is slow in this hot path)."""
    if value is None:
        return None
    return {
        key: _plain(item) if hasattr(item, "__dataclass_fields__") else item
        for key, item in vars(value).items()
    }


def split_for_append(event: dict[str, Any]) -> tuple[str, str]:
    """The event's JSON as two open-ended pieces the append script closes.

    ``head`` is the envelope without its closing brace; ``body`` is ``data`` without its
    closing brace. The script writes ``head,"sequence":N,"data":body,"previous_status":..}}``.
    """
    envelope = {key: value for key, value in event.items() if key != "data"}
    head = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)[:-1]
    body = json.dumps(event["data"], separators=(",", ":"), ensure_ascii=False)[:-1]
    return head, body


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of a normalized event (``hub/schema/event.schema.json``)."""
    text = resources.files("hub").joinpath("schema/event.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded
