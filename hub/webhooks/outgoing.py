"""An event as the webhooks handle it: the fields they match and queue on, and its JSON as sent.

A ``hub:events`` entry carries those fields beside the event (``merchant``, ``provider``,
``shipment``, ``type``, ``id``, ``sequence``), so the dispatcher never parses an event to
route it, and the JSON the append script wrote goes to the merchant byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    id: str
    type: str
    merchant_id: str
    provider: str
    shipment_id: str  # "" for the hub's own events (webhook.endpoint_disabled, webhook.test)
    sequence: int  # per shipment; 0 when the event has none
    text: str  # the CloudEvent's JSON, as sent

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> Outgoing:
        """From a CloudEvent built in this process (the hub's notices)."""
        data = event.get("data") or {}
        return cls(
            id=str(event["id"]),
            type=str(event["type"]),
            merchant_id=str(data.get("merchant_id") or ""),
            provider=str(data.get("provider") or ""),
            shipment_id=str(event.get("partitionkey") or ""),
            sequence=int(event.get("sequence") or 0),
            text=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        )

    @classmethod
    def from_entry(cls, fields: Mapping[str, str]) -> Outgoing:
        """From a ``hub:events`` entry; one written before the fields existed is parsed instead.

        Raises ``KeyError``, ``ValueError`` or ``TypeError`` for an entry that holds no event.
        """
        if "merchant" not in fields:
            event = json.loads(fields["event"])
            if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
                raise ValueError("the entry's event is not a JSON object with a data object")
            return cls.of(event)
        return cls(
            id=fields["id"],
            type=fields["type"],
            merchant_id=fields["merchant"],
            provider=fields["provider"],
            shipment_id=fields["shipment"],
            sequence=int(fields["sequence"]),
            text=fields["event"],
        )
