"""ALOD (merchant bookings, Saudi Arabia / Gulf): ``getTrackingDetails``, polled.

ALOD answers every call, errors included, with base64-encoded JSON inside an HTTP 200,
``status`` saying ``"success"`` or ``"error"``. The tracking response does not repeat the
booking id, so the caller passes it as ``ref``.

Its ``booking_status_details`` (newest first) has one of two shapes, chosen by
``booking_type``: ALOD's own (``status`` text + ``created``) or the carrier's for UPS
(``status.type``/``code``/``description`` + ``date``/``time``). Other carriers (dhl,
shipa ...) are read when their entries have one of those shapes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from hub.errors import CredentialsRefused, NormalizationError, ProviderError, UnreadableBody
from hub.model import safejson
from hub.model.observation import UNDATED, EventType, Observation, ProviderStatus
from hub.model.status import TERMINAL, Status, StatusTable
from hub.providers._common import mapping, required, time
from hub.providers.facts import PARCEL, ProviderFacts

NAME = "alod"
KINDS = ("tracking",)
FACTS = ProviderFacts(
    display_name="ALOD",
    base_url="https://www.alod.net/mobile_api",
    timezone="Asia/Riyadh",
    credentials=("AUTHKEY", "USER_ID"),
    poll=PARCEL,
)

# Keys are lower-cased, single-spaced status words. ALOD's own texts are the tracking trace;
# the bare words are ``booking_status`` values (placed, timeout, delivered, cancelled).
# UPS rows are keyed ``ups:<activity type>`` (UPS Tracking API status types).
STATUSES = StatusTable(
    NAME,
    {
        "shipment submitted": ("Shipment Submitted", Status.PENDING),
        "sent to carrier": ("Sent to Carrier", Status.COURIER_ASSIGNED),
        "arrived to collect the shipment": ("Arrived to Collect the Shipment", Status.AT_PICKUP),
        "reached receiver": ("Reached Receiver", Status.AT_DROPOFF),
        "delivered": ("Delivered", Status.DELIVERED),
        "placed": ("placed", Status.PENDING),
        "timeout": ("timeout: no driver accepted in time", Status.EXPIRED),
        "cancelled": ("cancelled", Status.CANCELLED),
        "ups:M": ("Manifest: label created, package not yet with UPS", Status.PENDING),
        "ups:MV": ("Manifest voided: shipment cancelled", Status.CANCELLED),
        "ups:P": ("Pickup", Status.PICKED_UP),
        "ups:I": ("In transit", Status.IN_TRANSIT),
        "ups:W": ("Warehousing", Status.IN_TRANSIT),
        "ups:DO": ("Delivered to origin facility", Status.IN_TRANSIT),
        "ups:DD": ("Delivered to destination facility", Status.IN_TRANSIT),
        "ups:O": ("Out for delivery", Status.OUT_FOR_DELIVERY),
        "ups:D": ("Delivered", Status.DELIVERED),
        "ups:X": ("Exception", Status.EXCEPTION),
        "ups:RS": ("Returned to shipper", Status.RETURNED),
    },
)

_ALOD, _UPS = "alod", "ups"
AUTH_PARAM = "authkey"  # the header carrying the access key; an error naming it refuses the account
_NAMES_AUTHKEY = re.compile(r"\bauth[\s_-]?key\b", re.IGNORECASE)


def parse_body(body: bytes) -> Any:
    """Base64, then UTF-8, then JSON.

    A body starting with ``{`` is read as plain JSON: ``{`` is not a base64 character, so
    this cannot misread a base64 body, and it keeps a proxy's or a future plain reply readable.
    """
    text = body.strip()
    if not text.startswith(b"{"):
        text = _unbase64(text)
    try:
        return safejson.loads(text, safejson.PROVIDER_LIMITS, expect=None)
    except safejson.Refusal as refused:
        what = {safejson.INVALID_UTF8: "is not UTF-8", safejson.INVALID_JSON: "is not JSON"}
        reason = what.get(refused.code, f"is refused ({refused.code})")
        raise UnreadableBody(NAME, f"decoded body {reason}: {refused.message}") from None


def _unbase64(text: bytes) -> bytes:
    compact = b"".join(text.split())
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except binascii.Error as exc:
        raise UnreadableBody(
            NAME, f"body is not valid base64 ({exc}); ALOD base64-encodes its JSON"
        ) from None


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    if kind != "tracking":
        raise NormalizationError(NAME, f"unknown payload kind {kind!r}; expected one of {KINDS}")
    body = _successful(payload)
    if not ref:
        raise NormalizationError(NAME, "ref (the booking_id asked about) is required: the response omits it")
    booking_type = str(body.get("booking_type") or "").lower()
    details = body.get("booking_status_details")
    if not isinstance(details, list):
        raise NormalizationError(NAME, f"booking_status_details must be a list, got {type(details).__name__}")
    extra = {"booking_type": booking_type} if booking_type else {}
    base: dict[str, Any] = {"provider": NAME, "provider_ref": ref, "extra": extra}
    # Newest first on the wire: reversed, then a stable sort keeps equal times in trace order.
    trace = [_entry(entry, index, booking_type, tz) for index, entry in enumerate(details)][::-1]
    trace.sort(key=lambda step: step[2])
    observations = [_status(provider_status, key, at, base) for provider_status, key, at in trace]
    closing = _booking_status(body, booking_type, observations, base)
    return observations + closing


def _successful(payload: Any) -> Mapping[str, Any]:
    body = mapping(NAME, payload, "ALOD response")
    status = body.get("status")
    if status == "error":
        code, message = _error(body)
        if code.strip().lower() == AUTH_PARAM:  # the access key, not this booking, was refused
            raise CredentialsRefused(NAME, code, message)
        raise ProviderError(NAME, code, message)
    if status != "success":
        raise NormalizationError(NAME, f"response 'status' must be 'success' or 'error', got {status!r}")
    return body


def _error(body: Mapping[str, Any]) -> tuple[str, str]:
    """ALOD errors name no code: the first offending ``param`` is the code, else ``error``.

    ``authkey`` comes first when named: a refused key says nothing about the booking.

    The list comes as ``errors: [{param, msg, value}]`` or, from some calls, as ``message``.
    """
    listed = body.get("errors") if isinstance(body.get("errors"), list) else body.get("message")
    if isinstance(listed, list):
        items = [item for item in listed if isinstance(item, Mapping)]
        message = "; ".join(_error_line(item) for item in items)
        params = [str(item["param"]) for item in items if item.get("param")]
        params.sort(key=lambda param: param.strip().lower() != AUTH_PARAM)
        return (params[0] if params else "error"), message
    message = str(body.get("message") or "")
    # A bare message naming the access key ("Invalid authkey") refuses it as surely as a param.
    return (AUTH_PARAM if _NAMES_AUTHKEY.search(message) else "error"), message


def _error_line(item: Mapping[str, Any]) -> str:
    return f"{item['param']}: {item.get('msg')}" if item.get("param") else str(item.get("msg"))


def _entry(entry: object, index: int, booking_type: str, tz: tzinfo) -> tuple[ProviderStatus, str, datetime]:
    what = f"booking_status_details[{index}]"
    item = mapping(NAME, entry, what)
    shape = booking_type if booking_type in (_ALOD, _UPS) else _shape_of(item, what)
    if shape == _UPS:
        return _ups_entry(item, what, tz)
    return _alod_entry(item, what, tz)


def _shape_of(item: Mapping[str, Any], what: str) -> str:
    if isinstance(item.get("status"), Mapping) and "date" in item:
        return _UPS
    if isinstance(item.get("status"), str) and "created" in item:
        return _ALOD
    raise NormalizationError(
        NAME, f"{what} has neither ALOD's shape (status text + created) nor UPS's (status object + date/time)"
    )


def _alod_entry(item: Mapping[str, Any], what: str, tz: tzinfo) -> tuple[ProviderStatus, str, datetime]:
    text = required(NAME, item, "status", what)
    if not isinstance(text, str):
        raise NormalizationError(NAME, f"{what}.status must be ALOD's status text, got {text!r}")
    provider_status, key = _own_status(text)
    return provider_status, key, time(NAME, item.get("created"), tz, f"{what}.created")


def _own_status(text: str) -> tuple[ProviderStatus, str]:
    """ALOD's word as ``(provider status, table key)``: one code per word, however it is spelt.

    ALOD's words are matched case- and space-insensitively, so ``delivered`` (its
    ``booking_status``) and ``Delivered`` (its trace) are one status and get one code: the
    table's spelling (the trace's), else the key; a word the table lacks keeps the text as
    sent. The text is always as sent.
    """
    key = _key(text)
    known = STATUSES.text(key)
    code = text if known is None else known if _key(known) == key else key
    return ProviderStatus(code, text), key


def _ups_entry(item: Mapping[str, Any], what: str, tz: tzinfo) -> tuple[ProviderStatus, str, datetime]:
    """UPS activity: code ``type/code`` (``MV/VP``), text its description; mapped by type.

    UPS gives local ``date`` ``20220419`` and ``time`` ``155720`` with no offset: the
    configured zone applies (nothing else in the response carries one).
    """
    status = mapping(NAME, item.get("status"), f"{what}.status")
    activity = str(required(NAME, status, "type", f"{what}.status"))
    code = f"{activity}/{status['code']}" if status.get("code") else activity
    key = f"ups:{activity}"
    description = str(status["description"]) if status.get("description") else STATUSES.text(key)
    day, clock = required(NAME, item, "date", what), required(NAME, item, "time", what)
    at = time(NAME, f"{day} {str(clock).zfill(6)}", tz, f"{what} date {day!r} + time {clock!r}")
    return ProviderStatus(code, description), key, at


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


def _status(provider_status: ProviderStatus, key: str, at: datetime, base: dict[str, Any]) -> Observation:
    return Observation(
        type=EventType.STATUS_CHANGED,
        time=at,
        status=STATUSES.map(key),
        provider_status=provider_status,
        **base,
    )


def _booking_status(
    body: Mapping[str, Any], booking_type: str, trace: list[Observation], base: dict[str, Any]
) -> list[Observation]:
    """ALOD's own word on the booking (``timeout``, an unlisted word ...) when its trace lacks it.

    Terminal words and words the table lacks count: a known earlier word (``placed``) is
    what the trace already says. Only ALOD's own bookings: for UPS the carrier's trace
    rules (the document's UPS example says ``delivered`` beside a cancelled trace).
    ``booking_status`` has no time, and a booking that timed out has no trace at all, so the
    word is :data:`~hub.model.observation.UNDATED`: the hub dates it on receipt. The same word
    seen again is the status the shipment is already in (same code), so it is recorded once.
    """
    word = body.get("booking_status")
    if booking_type != _ALOD or not isinstance(word, str) or not word.strip():
        return []
    provider_status, key = _own_status(word)
    status = STATUSES.map(key)
    if status not in TERMINAL and status != Status.UNKNOWN:
        return []
    if trace and trace[-1].provider_status is not None:
        if trace[-1].provider_status.code == provider_status.code:
            return []
        if status != Status.UNKNOWN and trace[-1].status == status:
            return []
    return [_status(provider_status, key, UNDATED, base)]
