"""all24 (Bangkok parcel delivery): ``GET /v1/tracking/orders``, polled.

Both lookups (by all24 tracking number, or by a third party's number + ``customer_id``)
answer ``{"<tracking number>": {order}, "response_code": 200, "error_codes": []}``.

The document's code table contradicts its own example (the table calls ``500000`` "Order
received" and ``300000`` "Delivered"); the example is a real trace, so the codes below are
built from it, and every event keeps its ``event_name`` beside the code. ``event_time`` is
naive local time: it takes the offset the order's other times carry (``+07:00``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from hub.errors import NormalizationError, ProviderError
from hub.model import times
from hub.model.observation import EventType, Observation, ProviderStatus
from hub.model.status import Status, StatusTable
from hub.providers._common import mapping, optional_time, parse_json, required, time
from hub.providers.facts import PARCEL, ProviderFacts

NAME = "all24"
KINDS = ("tracking",)
FACTS = ProviderFacts(
    display_name="all24",
    base_url="https://api.all24.com",
    timezone="Asia/Bangkok",
    credentials=("API_KEY",),
    poll=PARCEL,
)

# The example trace: 050000 → 100000 → 200000 → 300000 → 500000.
STATUSES = StatusTable(
    NAME,
    {
        "050000": ("Order received", Status.PENDING),
        # The goods reach all24's facility (example: "Fastrak Service Limited"): all24 holds them.
        "100000": ("Goods received", Status.PICKED_UP),
        # Loaded "On vehicle"; nothing says it is the last leg, so in transit, not out for delivery.
        "200000": ("Picked up", Status.IN_TRANSIT),
        # At the recipient's location (its location_ref equals recipient_location's).
        "300000": ("Goods arrived", Status.AT_DROPOFF),
        "500000": ("Delivery complete", Status.DELIVERED),
        "401100": ("Order cancelled (by customer)", Status.CANCELLED),
        "401101": ("Order cancelled (by carrier)", Status.CANCELLED),
    },
)

ERROR_CODES = {"1000": "Missing Parameters", "1350": "Order Not found"}
_META_KEYS = frozenset({"response_code", "error_codes", "hs_order_ref"})


def parse_body(body: bytes) -> Any:
    return parse_json(NAME, body)


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    if kind != "tracking":
        raise NormalizationError(NAME, f"unknown payload kind {kind!r}; expected one of {KINDS}")
    body = mapping(NAME, payload, "all24 tracking response")
    _raise_reported_error(body)
    key, order = _pick_order(body, ref)
    tz = times.offset_in(order.get("origin_order_date"), order.get("expected_completion")) or tz
    hs_order_ref = str(order.get("hs_order_ref") or key)
    base: dict[str, Any] = {
        "provider": NAME,
        # all24's own number. A shipment registered by a third-party number answers with it too:
        # a poll binds the answer to the shipment it asked about, not to this (hub.ingest).
        "provider_ref": hs_order_ref,
        "refs": {"hs_order_ref": hs_order_ref},
        "merchant_ref": str(order["order_ref_id"]) if order.get("order_ref_id") else None,
        "eta": optional_time(NAME, order.get("expected_completion"), tz, "expected_completion"),
    }
    history = order.get("history", [])
    if not isinstance(history, list):
        raise NormalizationError(NAME, f"{key}.history must be a list, got {type(history).__name__}")
    # Newest first on the wire: reversed, then a stable sort keeps equal times in trace order.
    events = [_event(entry, f"{key}.history[{index}]", tz, base) for index, entry in enumerate(history)]
    return sorted(events[::-1], key=lambda event: event.time)


def _raise_reported_error(body: Mapping[str, Any]) -> None:
    errors = body.get("error_codes") or []
    response_code = body.get("response_code")
    if not errors and response_code in (None, 200, "200"):
        return
    codes = [str(code) for code in errors] if isinstance(errors, list) else [str(errors)]
    message = "; ".join(f"{code} {ERROR_CODES.get(code, 'unknown error code')}" for code in codes)
    raise ProviderError(NAME, codes[0] if codes else str(response_code), message or "Request Failed")


def _pick_order(body: Mapping[str, Any], ref: str | None) -> tuple[str, Mapping[str, Any]]:
    """The order keyed by ``ref``, else the one whose hs_order_ref is ``ref``, else the only one.

    A third-party ``ref`` (``<customer_id>:<tracking_number>``) is looked up by its tracking number.
    """
    orders = {
        key: value for key, value in body.items() if key not in _META_KEYS and isinstance(value, Mapping)
    }
    number = ref.rpartition(":")[2] if ref else None
    for wanted in dict.fromkeys(filter(None, (ref, number))):
        if wanted in orders:
            return wanted, orders[wanted]
        matching = [key for key, order in orders.items() if order.get("hs_order_ref") == wanted]
        if len(matching) == 1:
            return matching[0], orders[matching[0]]
    if len(orders) == 1:
        return next(iter(orders.items()))
    if not orders:
        raise NormalizationError(NAME, "response holds no order object keyed by tracking number")
    raise NormalizationError(NAME, f"response holds orders {sorted(orders)}; none matches ref {ref!r}")


def _event(entry: object, what: str, tz: tzinfo, base: dict[str, Any]) -> Observation:
    item = mapping(NAME, entry, what)
    code = required(NAME, item, "event_code", what)
    if not isinstance(code, str):
        raise NormalizationError(NAME, f"{what}.event_code must be a string like '050000', got {code!r}")
    at = time(NAME, item.get("event_time"), tz, f"{what}.event_time")
    name = str(item["event_name"]) if item.get("event_name") else None
    return Observation(
        type=EventType.STATUS_CHANGED,
        time=at,
        status=STATUSES.map(code),
        provider_status=ProviderStatus(code, name),
        extra=_place(item),
        **base,
    )


def _place(item: Mapping[str, Any]) -> dict[str, str]:
    """Where the event happened, in all24's words (it gives names, not coordinates)."""
    where: Mapping[str, Any] = item["location"] if isinstance(item.get("location"), Mapping) else {}
    parts = [str(where.get(key)) for key in ("location_name", "service_area", "postcode") if where.get(key)]
    place = {"place": ", ".join(parts)} if parts else {}
    return place | ({"location_ref": str(item["location_ref"])} if item.get("location_ref") else {})
