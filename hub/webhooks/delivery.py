"""A delivery: one event for one endpoint, with its attempts so far and its outcome."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub import keys
from hub.webhooks.outgoing import Outgoing


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its endpoint was deleted


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    merchant_id: str
    event_id: str
    event_type: str
    lane: str
    sequence: int
    event: str  # the CloudEvent JSON, sent byte for byte on every attempt
    status: DeliveryStatus
    attempts: int
    cycle_start: int  # attempts made before the last manual retry or recovery
    created_ms: int
    next_attempt_ms: int | None = None
    last_status: int | None = None
    last_error: str | None = None
    completed_ms: int | None = None

    @property
    def member(self) -> str:
        return f"{self.endpoint_id}/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "shipment_id": None if self.lane.startswith("delivery:") else self.lane,
            "sequence": self.sequence,
            "status": self.status.value,
            "attempts": self.attempts,
            "created_ms": self.created_ms,
            "next_attempt_ms": self.next_attempt_ms if self.status is DeliveryStatus.PENDING else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "completed_ms": self.completed_ms,
        }


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """Deterministic, so an event handled twice (a reclaimed stream entry) is delivered once."""
    return "msg_" + hashlib.sha256(f"{endpoint_id}\x1f{event_id}".encode()).hexdigest()[:32]


def now_ms() -> int:
    return int(time.time() * 1000)


def parse(raw: dict[str, str]) -> Delivery:
    """A delivery from its Redis hash."""

    def optional(name: str) -> int | None:
        return int(raw[name]) if raw.get(name) else None

    return Delivery(
        id=raw["id"],
        endpoint_id=raw["endpoint_id"],
        merchant_id=raw["merchant_id"],
        event_id=raw["event_id"],
        event_type=raw["event_type"],
        lane=raw["lane"],
        sequence=int(raw["sequence"]),
        event=raw["event"],
        status=DeliveryStatus(raw["status"]),
        attempts=int(raw["attempts"]),
        cycle_start=int(raw.get("cycle_start") or 0),
        created_ms=int(raw["created_ms"]),
        next_attempt_ms=optional("next_attempt_ms"),
        last_status=optional("last_status"),
        last_error=raw.get("last_error") or None,
        completed_ms=optional("completed_ms"),
    )


def creation(
    endpoint_id: str, merchant_id: str, event: Outgoing, created_ms: int, retention_s: int
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the queue's create script for one new delivery."""
    ident = delivery_id(endpoint_id, event.id)
    lane = event.shipment_id or f"delivery:{ident}"
    fields = {
        "id": ident,
        "endpoint_id": endpoint_id,
        "merchant_id": merchant_id,
        "event_id": event.id,
        "event_type": event.type,
        "lane": lane,
        "sequence": event.sequence,
        "event": event.text,  # sent byte for byte
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "cycle_start": 0,
        "created_ms": created_ms,
        "next_attempt_ms": created_ms,
    }
    script_keys = [
        keys.webhook_delivery(endpoint_id, ident),
        keys.webhook_endpoint_deliveries(endpoint_id),
        keys.webhook_lane(endpoint_id, lane),
        keys.webhook_due(keys.webhook_partition(endpoint_id)),
    ]
    args = [
        ident,
        f"{endpoint_id}/{ident}",
        event.sequence,
        created_ms,
        created_ms - retention_s * 1000,
        *[part for pair in fields.items() for part in pair],
    ]
    return script_keys, args
