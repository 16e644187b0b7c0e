"""Alopeyk (on-demand courier, Tehran): webhook bodies and ``GET /api/v2/orders/{id}``.

Alopeyk sends the whole order on every change. Its timestamps are its history: an
order that arrives ``delivering`` also says when it was accepted and picked, so every
webhook re-derives the earlier statuses too and a lost webhook is recovered by the
next one (event ids make the repeats harmless).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from hub.errors import CredentialsRefused, NormalizationError, ProviderError
from hub.model import times
from hub.model.observation import UNDATED, Courier, EventType, Observation, ProviderStatus, Stop
from hub.model.status import Status, StatusTable
from hub.providers._common import location, mapping, optional_time, parse_json, required
from hub.providers.facts import HYPERLOCAL, ProviderFacts

NAME = "alopeyk"
KINDS = ("webhook", "order")
FACTS = ProviderFacts(
    display_name="Alopeyk",
    base_url="https://api.alopeyk.com",
    timezone="Asia/Tehran",
    credentials=("TOKEN",),
    poll=replace(HYPERLOCAL, rate_limits="100/60,43200/86400"),
    pushes=True,
    delay_grace_s=600,
)

STATUSES = StatusTable(
    NAME,
    {
        "scheduled": ("Scheduled order, not yet launched", Status.PENDING),
        "new": ("Created, ready to dispatch", Status.PENDING),
        "searching": ("Looking for a courier", Status.SEARCHING_COURIER),
        "accepted": ("A courier accepted", Status.COURIER_ASSIGNED),
        "picking": ("Courier arrived at the origin", Status.AT_PICKUP),
        "delivering": ("Origin handled, delivering", Status.OUT_FOR_DELIVERY),
        "delivered": ("All destinations handled", Status.DELIVERED),
        "finished": ("Finished and rated", Status.DELIVERED),
        "cancelled": ("Cancelled", Status.CANCELLED),
        "expired": ("No courier found", Status.EXPIRED),
    },
)

# The order's flow and the timestamp each step fills (from the document's "Order Handling Details").
_FLOW = (
    ("scheduled", "scheduled_at"),
    ("new", "created_at"),
    ("searching", "launched_at"),
    ("accepted", "accepted_at"),
    ("picking", "picking_at"),
    ("delivering", "delivering_at"),
    ("delivered", "delivered_at"),
    ("finished", "finished_at"),
)
_STOPPED = {"cancelled", "expired"}

ERROR_CONSTANTS = frozenset(
    {
        "UNKNOWN_ERROR",
        "FORBIDDEN_ERROR",
        "INVALID_REQUEST_ERROR",
        "ORDER_NOT_FOUND_ERROR",
        "ORDER_CANCELLED_ERROR",
        "USER_MINUS_CREDIT_ERROR",
        "LIMIT_EXCEEDED_ERROR",
    }
)

# Constants that refuse the token, not the order: the document's 403 ("You do not have enough
# permissions") sent as a constant in an HTTP 200. The account is paused as for a 401.
CREDENTIAL_CONSTANTS = frozenset({"FORBIDDEN_ERROR"})

_MERCHANT_REF_KEYS = ("merchant_ref", "order_ref", "order_id", "my_order_id", "reference")


def parse_body(body: bytes) -> Any:
    return parse_json(NAME, body)


def check_webhook(payload: Any) -> None:
    """What a receiver refuses at once, cheaply: a parsed body that is not an order at all.

    The rest (times, statuses, stops) is read when the payload is normalized.
    """
    order = _unwrap(payload, "webhook")
    required(NAME, order, "id", "order")
    required(NAME, order, "status", "order")


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    order = _unwrap(payload, kind)
    order_id = str(required(NAME, order, "id", "order"))
    status_word = str(required(NAME, order, "status", "order"))
    # Naive times (last_position_minimal, eta_minimal) take the offset the order's other times carry.
    tz = times.offset_in(*(order.get(key) for _, key in _FLOW), order.get("updated_at")) or tz
    updated_at = optional_time(NAME, order.get("updated_at"), tz, "order.updated_at")

    base = {
        "provider": NAME,
        "provider_ref": order_id,
        "merchant_ref": _merchant_ref(order),
        "refs": _refs(order),
        "courier": _courier(order.get("courier")),
        "eta": _eta(order.get("eta_minimal"), tz),
    }
    current = STATUSES.map(status_word)
    observations = _statuses(order, status_word, tz, updated_at, base)
    observations += _stops(order, tz, current, base)
    position = _position(order, tz, updated_at, current, base)
    if position:
        observations.append(position)
    return observations


def _unwrap(payload: Any, kind: str) -> Mapping[str, Any]:
    body = mapping(NAME, payload, "Alopeyk payload")
    if kind == "order" or "object" in body:
        status = body.get("status")
        if status != "success":
            message = str(body.get("message") or body.get("error") or "")
            code = message if message in ERROR_CONSTANTS else str(status)
            if kind != "order":  # posted to the receiver: whoever sent it, it is no order
                raise NormalizationError(NAME, f"an Alopeyk API error response, not an order ({code[:80]})")
            if code in CREDENTIAL_CONSTANTS:
                raise CredentialsRefused(NAME, code, message)
            raise ProviderError(NAME, code, message)
        return mapping(NAME, body.get("object"), "order response 'object'")
    # The webhook example wraps the order in {"order": ...}; the field list describes it bare.
    order = body.get("order")
    if isinstance(order, Mapping):
        return order
    if "id" in body and "status" in body:
        return body
    raise NormalizationError(
        NAME, "not an Alopeyk order: expected {'order': {...}} or an order with id and status"
    )


def _statuses(
    order: Mapping[str, Any],
    status_word: str,
    tz: tzinfo,
    updated_at: datetime | None,
    base: dict[str, Any],
) -> list[Observation]:
    steps: list[tuple[str, datetime]] = []
    for word, key in _FLOW:
        at = optional_time(NAME, order.get(key), tz, f"order.{key}")
        if word == "scheduled" and at is not None:
            at = optional_time(NAME, order.get("created_at"), tz, "order.created_at")
        if at is not None:
            steps.append((word, at))
        if word == status_word:
            break
    if status_word in _STOPPED:
        at = optional_time(NAME, order.get("stopped_at"), tz, "order.stopped_at") or updated_at
        if at is not None:
            steps.append((status_word, at))
    if not steps or steps[-1][0] != status_word:
        # No time for the current status and no updated_at: it is still the order's status
        # (an expired order must not be lost), dated by the hub on receipt.
        steps.append((status_word, updated_at or UNDATED))
    return [
        Observation(
            type=EventType.STATUS_CHANGED,
            time=at,
            status=STATUSES.map(word),
            provider_status=ProviderStatus(word, STATUSES.text(word)),
            **base,
        )
        for word, at in steps
    ]


def _stops(order: Mapping[str, Any], tz: tzinfo, current: Status, base: dict[str, Any]) -> list[Observation]:
    addresses = order.get("addresses")
    if not isinstance(addresses, list):
        return []
    observations = []
    for position, address in enumerate(addresses):
        if not isinstance(address, Mapping):
            continue
        index = _stop_index(address.get("priority"), position)
        for word, key, lat_key in (
            ("arrived", "arrived_at", "arrive_"),
            ("handled", "handled_at", "handle_"),
        ):
            at = optional_time(NAME, address.get(key), tz, f"addresses[{position}].{key}")
            if at is None:
                continue
            where = location({"lat": address.get(lat_key + "lat"), "lng": address.get(lat_key + "lng")})
            stop = Stop(
                index=index,
                kind=str(address.get("type", "destination")),
                status=word,
                location=location(address) or where,
                id=str(address["id"]) if address.get("id") is not None else None,
            )
            observations.append(
                Observation(
                    type=EventType.STOP_UPDATED,
                    time=at,
                    status=current,
                    provider_status=ProviderStatus(word, f"{stop.kind} {word}"),
                    location=where,
                    stop=stop,
                    **base,
                )
            )
    return observations


def _position(
    order: Mapping[str, Any], tz: tzinfo, updated_at: datetime | None, current: Status, base: dict[str, Any]
) -> Observation | None:
    minimal = order.get("last_position_minimal")
    courier = order.get("courier")
    if isinstance(minimal, Mapping) and location(minimal):
        where, at = (
            location(minimal),
            optional_time(NAME, minimal.get("updated_at"), tz, "last_position_minimal"),
        )
    elif isinstance(courier, Mapping) and location(courier.get("last_position")):
        where, at = location(courier.get("last_position")), None
    else:
        return None
    at = at or updated_at
    if at is None:
        return None
    return Observation(type=EventType.LOCATION_UPDATED, time=at, status=current, location=where, **base)


def _courier(value: object) -> Courier | None:
    if not isinstance(value, Mapping):
        return None
    name = " ".join(str(value[k]) for k in ("firstname", "lastname") if value.get(k)).strip() or None
    phone = str(value["phone"]) if value.get("phone") else None
    courier_id = str(value["id"]) if value.get("id") is not None else None
    return Courier(name=name, phone=phone, id=courier_id) if (name or phone) else None


def _stop_index(priority: Any, position: int) -> int:
    """``priority`` orders the stops; when it is not a whole number, the stop's place in the list does."""
    try:
        return int(priority or position)
    except (TypeError, ValueError, OverflowError):
        return position


def _eta(value: object, tz: tzinfo) -> datetime | None:
    if not isinstance(value, Mapping) or value.get("duration") in (None, ""):
        return None
    since = optional_time(NAME, value.get("updated_at"), tz, "eta_minimal.updated_at")
    try:
        return since + timedelta(seconds=float(value["duration"])) if since else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: a duration past datetime's range
        return None


def _merchant_ref(order: Mapping[str, Any]) -> str | None:
    extra = order.get("extra_params", order.get("extra_param"))
    if isinstance(extra, str | int):
        return str(extra)
    if not isinstance(extra, Mapping) or not extra:
        return None
    for key in _MERCHANT_REF_KEYS:
        if extra.get(key) not in (None, ""):
            return str(extra[key])
    first = next(iter(extra.values()))
    return str(first) if isinstance(first, str | int) else None


def _refs(order: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(order[key]) for key in ("order_token", "invoice_number") if order.get(key)}
