"""AL Services HLD (hyperlocal, 120-minute delivery, India): public tracking and Pusher events.

Both ways HLD reports an order are addressed by its tracking token: the public
``GET /api/v1/track/{token}`` and the Pusher channel ``hld.order.{token}``. Neither
payload repeats the token, so the caller passes it as ``ref`` and it becomes
``provider_ref``; the HLD order id (``HLD2026040412345``) goes to ``refs["order_id"]``.

HLD's integer codes are its own: ``4`` is Delivered here but In Transit in the Client API
(:mod:`hub.providers.alclient`), and ``7``/``9``/``11`` disagree too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from hub.errors import NormalizationError, ProviderError
from hub.model import times
from hub.model.flow import Flow
from hub.model.observation import Courier, EventType, Location, Observation
from hub.model.status import Status, StatusTable
from hub.providers._common import (
    current_status,
    location,
    mapping,
    optional_time,
    parse_json,
    required,
    status_change,
    time,
)
from hub.providers.facts import HYPERLOCAL, ProviderFacts

NAME = "hld"
KINDS = ("tracking", "pusher:executive.location_updated", "pusher:hld.order.status_changed")
FACTS = ProviderFacts(
    display_name="AL Services HLD",
    base_url="https://delivery.alfast.in",
    timezone="Asia/Kolkata",
    credentials=("TOKEN", "PUSHER_KEY", "PUSHER_CLUSTER"),
    poll=HYPERLOCAL,
    pushes=True,
    delay_grace_s=600,
)

STATUSES = StatusTable(
    NAME,
    {
        "1": ("OrderPlaced", Status.PENDING),
        "13": ("FindingExecutive", Status.SEARCHING_COURIER),
        "2": ("ExecutiveAssigned", Status.COURIER_ASSIGNED),
        "24": ("ExecutiveComing", Status.COURIER_ASSIGNED),
        "3": ("PickedUp", Status.PICKED_UP),
        # 25 is used by the tracking and status_changed examples but missing from HLD's table;
        # it follows PickedUp and precedes Delivered, so the parcel is on its way to the customer.
        "25": ("On the Way", Status.OUT_FOR_DELIVERY),
        "4": ("Delivered", Status.DELIVERED),
        "9": ("PaymentReceived", Status.DELIVERED),
        "11": ("Completed", Status.DELIVERED),
        "17": ("CustomerCancelled", Status.CANCELLED),
        "7": ("SystemCancelled", Status.CANCELLED),
        "10": ("ExecutiveRejected", Status.SEARCHING_COURIER),
    },
)

# The documented flow (1 → 13 → 2 → 24 → 3 → (25) → 4 or 9 → 11; 17/7 cancel before
# assignment; 10 rejects an assigned executive and the order is reassigned). It places a
# current status HLD does not date, and says that 11 (Completed, "Final") confirms 4 and 9.
FLOW = Flow(
    {
        "1": ("13", "2", "17", "7"),
        "13": ("2", "17", "7"),
        "2": ("24", "3", "10"),
        "24": ("3", "10"),
        "10": ("13", "2", "17", "7"),
        "3": ("25", "4", "9"),
        "25": ("4", "9"),
        "4": ("11",),
        "9": ("11",),
    },
    finals={"4": ("11",), "9": ("11",)},
)

# The order list names statuses in words ("Delivered"), not codes. Words are matched without
# case, spaces or punctuation against the table's names ("Order Placed" is OrderPlaced), plus
# the words HLD's own responses use beside a code (cancel: 17 "Cancelled", tracking: 25 "On the Way").
_TEXT_ALIASES = {"cancelled": "17", "canceled": "17", "ontheway": "25"}


def _word(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


TEXT_CODES = {_word(name): code for code, (name, _) in STATUSES.rows.items()} | _TEXT_ALIASES


def code_for_text(text: object) -> str | None:
    """The status code an order-list word stands for (``"Delivered"`` -> ``"4"``); ``None`` if unknown."""
    return TEXT_CODES.get(_word(text)) if isinstance(text, str) else None


# The order field that records when a status was reached. The tracking response's current
# status may be missing from its real_time_updates; it then takes this field's time when that
# is not older than the last update, else it is undated (HLD keeps no field for 13, 24, 25, 10,
# and assigned_at may be the first of several assignments).
_REACHED_AT = {
    "1": "created_at",
    "2": "assigned_at",
    "3": "pickup_completed_at",
    "4": "completed_at",
    "9": "completed_at",
    "11": "completed_at",
    "17": "cancelled_at",
    "7": "cancelled_at",
}
_ORDER_TIMES = ("created_at", "assigned_at", "pickup_completed_at", "completed_at", "cancelled_at")


def parse_body(body: bytes) -> Any:
    return parse_json(NAME, body)


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    if kind not in KINDS:
        raise NormalizationError(NAME, f"unknown payload kind {kind!r}; expected one of {KINDS}")
    if not ref:
        raise NormalizationError(
            NAME, "ref (the tracking token, as in channel hld.order.{token}) is required: payloads omit it"
        )
    if kind == "tracking":
        return _tracking(payload, tz, ref)
    if kind == "pusher:hld.order.status_changed":
        return [_status_changed(_pusher_data(payload, kind), tz, ref)]
    return [_location_updated(_pusher_data(payload, kind), tz, ref)]


def _tracking(payload: Any, tz: tzinfo, token: str) -> list[Observation]:
    data = _tracking_data(payload)
    updates = data.get("real_time_updates", [])
    if not isinstance(updates, list):
        raise NormalizationError(NAME, f"data.real_time_updates must be a list, got {type(updates).__name__}")
    tz = times.offset_in(*_time_strings(data, updates)) or tz
    executive: Mapping[str, Any] = data["executive"] if isinstance(data.get("executive"), Mapping) else {}
    base: dict[str, Any] = {
        "provider": NAME,
        "provider_ref": token,
        "refs": _order_refs(data.get("order_id")),
        "courier": _courier(executive),
        "eta": optional_time(NAME, data.get("delivery_eta"), tz, "data.delivery_eta"),
    }
    observations = [_update(update, index, tz, base) for index, update in enumerate(updates)]
    latest = _latest_time(data, observations, tz)
    code = required(NAME, data, "status", "tracking data")
    reached_at = _reached_at(data, code, tz)
    current = current_status(STATUSES, observations, code, data.get("status_text"), reached_at, latest, base)
    if current is not None:
        observations.append(current)
    where = location(executive.get("current_location"))
    if where:
        observations.append(
            Observation(
                type=EventType.LOCATION_UPDATED,
                time=latest,
                status=STATUSES.map(code),
                location=where,
                **base,
            )
        )
    return observations


def _tracking_data(payload: Any) -> Mapping[str, Any]:
    body = mapping(NAME, payload, "HLD tracking response")
    if body.get("success") is False:
        raise ProviderError(NAME, str(body.get("error_code") or "ERROR"), str(body.get("message") or ""))
    if body.get("success") is not True:
        raise NormalizationError(NAME, "tracking response must be {'success': true, 'data': {...}}")
    return mapping(NAME, body.get("data"), "tracking response 'data'")


def _update(update: object, index: int, tz: tzinfo, base: dict[str, Any]) -> Observation:
    what = f"real_time_updates[{index}]"
    entry = mapping(NAME, update, what)
    code = required(NAME, entry, "status", what)
    at = time(NAME, entry.get("timestamp"), tz, f"{what}.timestamp")
    return _status(code, entry.get("status_text"), at, location(entry.get("location")), base)


def _status(
    code: Any, text: object, at: datetime, where: Location | None, base: dict[str, Any]
) -> Observation:
    """A status change; HLD omits the text in real_time_updates, so the table's name fills in."""
    return status_change(STATUSES, code, text, at, where, base)


def _reached_at(data: Mapping[str, Any], code: object, tz: tzinfo) -> datetime | None:
    field = _REACHED_AT.get(str(code))
    return optional_time(NAME, data.get(field), tz, f"data.{field}") if field else None


def _latest_time(data: Mapping[str, Any], observations: list[Observation], tz: tzinfo) -> datetime:
    """The latest instant the response knows: HLD dates neither the current status nor the position."""
    times = [o.time for o in observations]
    times += [at for key in _ORDER_TIMES if (at := optional_time(NAME, data.get(key), tz, f"data.{key}"))]
    if not times:
        raise NormalizationError(
            NAME, "tracking data carries no time at all (no created_at, no real_time_updates)"
        )
    return max(times)


def _time_strings(data: Mapping[str, Any], updates: list[Any]) -> list[object]:
    strings = [data.get(key) for key in _ORDER_TIMES]
    return strings + [u.get("timestamp") for u in updates if isinstance(u, Mapping)]


def _pusher_data(payload: Any, kind: str) -> Mapping[str, Any]:
    """Pusher frames carry ``data`` as a JSON string; a decoded object is accepted too."""
    if isinstance(payload, str | bytes):
        try:
            payload = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NormalizationError(NAME, f"{kind} data is a string but not JSON ({exc})") from None
    return mapping(NAME, payload, f"{kind} data")


def _status_changed(data: Mapping[str, Any], tz: tzinfo, token: str) -> Observation:
    order = mapping(NAME, data.get("order"), "status_changed 'order'")
    entry = data.get("tracking_entry")
    entry = mapping(NAME, entry, "status_changed 'tracking_entry'") if entry is not None else {}
    code = entry.get("status", order.get("status"))
    if code is None or code == "":
        raise NormalizationError(NAME, "status_changed has no status in tracking_entry nor order")
    text = order.get("status_text") if str(order.get("status")) == str(code) else None
    at = time(
        NAME, entry.get("timestamp") or data.get("timestamp"), tz, "status_changed tracking_entry.timestamp"
    )
    base = {"provider": NAME, "provider_ref": token, "refs": _order_refs(order.get("id"))}
    return _status(code, text, at, None, base)


def _location_updated(data: Mapping[str, Any], tz: tzinfo, token: str) -> Observation:
    where = location(data.get("location"))
    if where is None:
        raise NormalizationError(NAME, "location_updated has no valid location {'lat': .., 'lng': ..}")
    executive_id = data.get("executive_id")
    return Observation(
        type=EventType.LOCATION_UPDATED,
        provider=NAME,
        provider_ref=token,
        time=time(NAME, data.get("timestamp"), tz, "location_updated timestamp"),
        location=where,
        courier=Courier(id=str(executive_id)) if executive_id not in (None, "") else None,
        refs=_order_refs(data.get("order_id")),
    )


def _courier(executive: Mapping[str, Any]) -> Courier | None:
    name = str(executive["name"]) if executive.get("name") else None
    phone = str(executive["mobile"]) if executive.get("mobile") else None
    return Courier(name=name, phone=phone) if (name or phone) else None


def _order_refs(order_id: object) -> dict[str, str]:
    return {"order_id": str(order_id)} if order_id not in (None, "") else {}
