"""Small helpers shared by the provider normalizers (pure, no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from hub.errors import NormalizationError, UnreadableBody
from hub.model import safejson, times
from hub.model.observation import EventType, Location, Observation, ProviderStatus
from hub.model.status import StatusTable


def parse_json(provider: str, body: bytes) -> Any:
    """Through the hub's guarded reader: depth, number length, UTF-8 and lone surrogates checked."""
    try:
        return safejson.loads(body, safejson.PROVIDER_LIMITS, expect=None)
    except safejson.Refusal as refused:
        raise UnreadableBody(provider, f"body refused ({refused.code}): {refused.message}") from None


def mapping(provider: str, value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NormalizationError(provider, f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def required(provider: str, obj: Mapping[str, Any], key: str, what: str) -> Any:
    value = obj.get(key)
    if value is None or value == "":
        raise NormalizationError(provider, f"{what} has no {key!r}")
    return value


def time(provider: str, value: object, tz: tzinfo, what: str) -> datetime:
    try:
        parsed = times.parse_optional(value, tz)
    except ValueError as exc:
        raise NormalizationError(provider, f"{what}: {exc}") from None
    if parsed is None:
        raise NormalizationError(provider, f"{what} is missing")
    return parsed


def optional_time(provider: str, value: object, tz: tzinfo, what: str) -> datetime | None:
    try:
        return times.parse_optional(value, tz)
    except ValueError as exc:
        raise NormalizationError(provider, f"{what}: {exc}") from None


def location(value: object) -> Location | None:
    """A ``{"lat": .., "lng": ..}`` object (numbers or numeric strings) or ``None``."""
    if not isinstance(value, Mapping):
        return None
    try:
        lat, lng = float(value["lat"]), float(value["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return Location(lat, lng)


def status_change(
    table: StatusTable, code: Any, text: object, at: datetime, where: Location | None, base: dict[str, Any]
) -> Observation:
    """A status change; when the provider sends no text, its table's name for the code fills in."""
    return Observation(
        type=EventType.STATUS_CHANGED,
        time=at,
        status=table.map(code),
        provider_status=ProviderStatus(code, str(text) if text else table.text(code)),
        location=where,
        **base,
    )


def current_status(
    table: StatusTable,
    history: Sequence[Observation],
    code: Any,
    text: object,
    reached_at: datetime | None,
    latest: datetime,
    base: dict[str, Any],
) -> Observation | None:
    """The current status as a change, unless the history's newest entry already is that code.

    A change is a transition, not a code seen once: ``2 → 10 → 2`` reports the second ``2``.
    It is dated by ``reached_at`` when that is not older than the newest entry (an older one
    dates an earlier visit to the same code); otherwise it is undated, and ``latest`` (the
    latest instant the payload knows) anchors it: see ``docs/ordering.md``.
    """
    statuses = [o for o in history if o.type == EventType.STATUS_CHANGED and o.provider_status]
    newest = max(enumerate(statuses), key=lambda pair: (pair[1].time, pair[0]), default=None)
    if newest is not None:
        last = newest[1]
        assert last.provider_status is not None
        if str(last.provider_status.code).strip() == str(code).strip():
            return None
    if reached_at is not None and (newest is None or reached_at >= newest[1].time):
        return status_change(table, code, text, reached_at, None, base)
    return dataclasses.replace(status_change(table, code, text, latest, None, base), undated=True)
