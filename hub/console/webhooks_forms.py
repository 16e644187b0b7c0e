"""Reading the Webhooks pages' forms into what :mod:`hub.webhooks.subscription` checks.

Event types and providers are checkboxes with a name each (``type.<event type>``,
``provider.<name>``), since a console form gives every field once; anything else in such a
name is refused like an unknown value in the API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from hub.webhooks.subscription import EVENT_TYPES, PROVIDER_NAMES, InvalidSubscription

MAX_TIME_CHARS = 40
MAX_OFFSET_MIN = 18 * 60  # the widest UTC offset a zone has is under 15 h
_OFFSET = re.compile(r"-?[0-9]{1,4}")


def subscription_body(form: dict[str, str], with_url: bool) -> dict[str, Any]:
    """The API's body for this form: url (when the form has it), event types, providers, description."""
    body: dict[str, Any] = {
        "event_types": _checked(form, "type.", EVENT_TYPES, "event_types"),
        "providers": _checked(form, "provider.", PROVIDER_NAMES, "providers"),
        "description": form.get("description", "").strip(),
    }
    if with_url:
        body["url"] = form.get("url", "").strip()
    return body


def _checked(form: dict[str, str], prefix: str, allowed: list[str], field: str) -> list[str]:
    chosen = [name.removeprefix(prefix) for name in form if name.startswith(prefix)]
    if unknown := sorted(set(chosen) - set(allowed)):
        raise InvalidSubscription(field, f"{field} {unknown} unknown; expected some of {allowed}")
    return [name for name in allowed if name in chosen]


def instant_ms(raw: str | None, field: str, offset_min: str | None = None) -> int:
    """A time from the form in ms: ``2026-04-04T10:30`` in the zone ``offset_min`` names (the
    browser's ``getTimezoneOffset()``: UTC minus local, in minutes), UTC without it, or with its own
    offset (``…+03:30``)."""
    text = (raw or "").strip()
    if not text or len(text) > MAX_TIME_CHARS:
        raise InvalidSubscription(field, f"{field} must be a time such as 2026-04-04T10:30 (UTC)")
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidSubscription(field, f"{field} must be a time such as 2026-04-04T10:30 (UTC)") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=_zone(offset_min, field))
    return int(instant.timestamp() * 1000)


def _zone(offset_min: str | None, field: str) -> tzinfo:
    if not offset_min:
        return UTC
    if not _OFFSET.fullmatch(offset_min) or abs(int(offset_min)) > MAX_OFFSET_MIN:
        raise InvalidSubscription(field, f"a time zone offset is whole minutes within ±{MAX_OFFSET_MIN}")
    return timezone(-timedelta(minutes=int(offset_min)))
