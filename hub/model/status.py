"""The unified status vocabulary every provider's statuses are mapped onto."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    SEARCHING_COURIER = "searching_courier"
    COURIER_ASSIGNED = "courier_assigned"
    AT_PICKUP = "at_pickup"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AT_DROPOFF = "at_dropoff"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNING = "returning"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    EXCEPTION = "exception"
    UNKNOWN = "unknown"


# Once a shipment reaches one of these, nothing further is expected from the provider.
TERMINAL = frozenset({Status.DELIVERED, Status.RETURNED, Status.CANCELLED, Status.EXPIRED})


class StatusTable:
    """A provider's status mapping as data: code -> (provider's own name, unified status).

    Printed in the README per provider; lookups of codes not in the table give ``unknown``.
    """

    def __init__(self, provider: str, rows: dict[str, tuple[str, Status]]) -> None:
        self.provider = provider
        self.rows = rows

    def map(self, code: object) -> Status:
        if code is None:
            return Status.UNKNOWN
        row = self.rows.get(str(code).strip())
        return row[1] if row else Status.UNKNOWN

    def text(self, code: object) -> str | None:
        row = self.rows.get(str(code).strip()) if code is not None else None
        return row[0] if row else None

    def markdown(self) -> str:
        """The table as the README prints it."""
        lines = ["| provider code | provider's meaning | unified status |", "|---|---|---|"]
        lines += [f"| `{code}` | {text} | `{status.value}` |" for code, (text, status) in self.rows.items()]
        return "\n".join(lines)
