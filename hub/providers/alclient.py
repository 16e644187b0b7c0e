"""AL Services logistics "Client API" v2.0 (high-value cargo, India): order tracking, polled.

The document names the tracking operation ("real-time tracking information and status
history", by ``order_id``) but shows no response, so this module accepts exactly the shape
it implies and rejects anything else with a reason::

    {"data": {                       # the wrapper is optional: the bare object is accepted too
        "order_id" | "order_no": int,          # optional when the caller passes ref
        "customer_order_no": str,              # optional: the merchant's own reference
        "status": int,                         # a code from the document's status table
        "status_text": str,                    # optional
        "updated_at": str,                     # optional: when the current status was set
        "status_history": [                    # optional, oldest first or not
            {"status": int, "status_text": str?, "created_at" | "timestamp": str,
             "location": {"lat": .., "lng": ..}?}
        ],
        "current_location": {"lat": .., "lng": ..}   # optional
    }}

Times are ISO 8601 with an offset, or naive ``YYYY-MM-DD HH:MM:SS`` (which take an offset
found elsewhere in the payload, else the configured zone). Errors come as
``{"message": ..., "errors"?: {...}}`` without data (401 ``Unauthenticated.``, 400/422
validation, 500).

The codes are this API's own: ``4`` is In Transit here but Delivered in HLD
(:mod:`hub.providers.hld`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from hub.errors import NormalizationError, ProviderError
from hub.model import times
from hub.model.flow import Flow
from hub.model.observation import EventType, Location, Observation
from hub.model.status import Status, StatusTable
from hub.providers._common import (
    current_status,
    location,
    mapping,
    optional_time,
    parse_json,
    status_change,
    time,
)
from hub.providers.facts import PARCEL, ProviderFacts

NAME = "alclient"
KINDS = ("tracking",)
FACTS = ProviderFacts(
    display_name="AL Services Logistics",
    base_url="https://delivery.alfast.in/api/v1/client",
    timezone="Asia/Kolkata",
    credentials=("MOBILE", "PASSWORD"),
    poll=PARCEL,
)

# The documented flow, 1 → 2 → 3 → 4 → 5 → 6 → 9, with 7 (cancelled before pickup, then maybe
# 10 cancelled and returned), 8 returned and 11 attempted and returned. It places a current
# status the response does not date, and says that 9 "Delivered (Final)" confirms 6.
FLOW = Flow(
    {
        "1": ("2", "7"),
        "2": ("3", "7"),
        "3": ("4", "7"),
        "4": ("5", "8"),
        "5": ("6", "8", "11"),
        "6": ("9",),
        "7": ("10",),
    },
    finals={"6": ("9",)},
)

STATUSES = StatusTable(
    NAME,
    {
        "1": ("Created", Status.PENDING),
        "2": ("Assigned", Status.COURIER_ASSIGNED),
        # "Pickup Pending": assigned and awaiting pickup; nothing says the courier is there yet.
        "3": ("Pickup Pending", Status.COURIER_ASSIGNED),
        "4": ("In Transit", Status.IN_TRANSIT),
        "5": ("Out for Delivery", Status.OUT_FOR_DELIVERY),
        "6": ("Delivered", Status.DELIVERED),
        "7": ("Cancelled", Status.CANCELLED),
        "8": ("Returned", Status.RETURNED),
        "9": ("Delivered (Final)", Status.DELIVERED),
        "10": ("Cancelled and Returned", Status.RETURNED),
        "11": ("Attempted and Returned", Status.RETURNED),
    },
)

_EXPECTED = "expected {'data': {'status': int, 'status_history': [...]}} or the same object unwrapped"


def parse_body(body: bytes) -> Any:
    return parse_json(NAME, body)


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    if kind != "tracking":
        raise NormalizationError(NAME, f"unknown payload kind {kind!r}; expected one of {KINDS}")
    order = _order(payload)
    history = _history(order)
    tz = times.offset_in(order.get("updated_at"), *(_entry_time(e) for e in history)) or tz
    base: dict[str, Any] = {
        "provider": NAME,
        "provider_ref": _provider_ref(order, ref),
        "merchant_ref": _optional_str(order, "customer_order_no"),
    }
    observations = [_history_entry(entry, index, tz, base) for index, entry in enumerate(history)]
    updated_at = optional_time(NAME, order.get("updated_at"), tz, "updated_at")
    code = _code(order.get("status"), "status")
    latest = _latest([*observations, *([] if updated_at is None else [updated_at])])
    current = current_status(STATUSES, observations, code, order.get("status_text"), updated_at, latest, base)
    if current is not None:
        observations.append(current)
    where = location(order.get("current_location"))
    if where:
        at = updated_at or latest
        observations.append(
            Observation(
                type=EventType.LOCATION_UPDATED, time=at, status=STATUSES.map(code), location=where, **base
            )
        )
    return observations


def _order(payload: Any) -> Mapping[str, Any]:
    body = mapping(NAME, payload, "Client API tracking response")
    if "data" in body:
        return mapping(NAME, body["data"], "tracking response 'data'")
    if "status" in body:
        return body
    if "message" in body:
        raise ProviderError(NAME, _error_code(body), _error_message(body))
    raise NormalizationError(NAME, f"not a tracking response: {_EXPECTED}; got keys {sorted(body)}")


def _error_code(body: Mapping[str, Any]) -> str:
    if str(body.get("message")).strip().rstrip(".").lower() == "unauthenticated":
        return "UNAUTHENTICATED"
    return "VALIDATION_FAILED" if body.get("errors") else "ERROR"


def _error_message(body: Mapping[str, Any]) -> str:
    errors = body.get("errors")
    details = []
    if isinstance(errors, Mapping):
        for field, problems in errors.items():
            listed = problems if isinstance(problems, list) else [problems]
            details += [f"{field}: {problem}" for problem in listed]
    return "; ".join([str(body.get("message")), *details])


def _history(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    history = order.get("status_history", [])
    if not isinstance(history, list):
        raise NormalizationError(NAME, f"status_history must be a list, got {type(history).__name__}")
    return [mapping(NAME, entry, f"status_history[{index}]") for index, entry in enumerate(history)]


def _history_entry(entry: Mapping[str, Any], index: int, tz: tzinfo, base: dict[str, Any]) -> Observation:
    what = f"status_history[{index}]"
    code = _code(entry.get("status"), f"{what}.status")
    stamp = _entry_time(entry)
    if stamp is None:
        raise NormalizationError(NAME, f"{what} has neither 'created_at' nor 'timestamp'")
    at = time(NAME, stamp, tz, f"{what} time")
    return _status(code, entry.get("status_text"), at, location(entry.get("location")), base)


def _entry_time(entry: Mapping[str, Any]) -> object:
    return entry.get("created_at") or entry.get("timestamp")


def _status(
    code: int, text: object, at: datetime, where: Location | None, base: dict[str, Any]
) -> Observation:
    """A status change; when the API sends no text, the document's name for the code fills in."""
    return status_change(STATUSES, code, text, at, where, base)


def _code(value: object, what: str) -> int:
    """Codes are integers from the document's table; a string or float means another shape."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormalizationError(NAME, f"{what} must be an integer status code, got {value!r}; {_EXPECTED}")
    return value


def _provider_ref(order: Mapping[str, Any], ref: str | None) -> str:
    order_id = order.get("order_id", order.get("order_no"))
    if order_id is None:
        if not ref:
            raise NormalizationError(NAME, "response has no order_id/order_no and no ref was given")
        return ref
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        raise NormalizationError(NAME, f"order_id must be an integer, got {order_id!r}")
    return str(order_id)


def _optional_str(order: Mapping[str, Any], key: str) -> str | None:
    value = order.get(key)
    return str(value) if value not in (None, "") else None


def _latest(known: list[Observation | datetime]) -> datetime:
    """The latest instant the response knows (history times, updated_at)."""
    times = [item if isinstance(item, datetime) else item.time for item in known]
    if not times:
        raise NormalizationError(NAME, "the current status has no time: no updated_at and no status_history")
    return max(times)
