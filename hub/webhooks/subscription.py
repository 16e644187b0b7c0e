"""What an endpoint subscribes to, checked once for every caller (the JSON API and the console).

A bad field raises :class:`InvalidSubscription` naming the field, so the API answers a 422 and
the console shows the message beside the form field; an internal or malformed URL is refused
now, not after a day of retries.
"""

from __future__ import annotations

from typing import Any

from hub.model.observation import EventType
from hub.providers import PROVIDERS
from hub.settings import Settings
from hub.webhooks import guard, notices

MAX_DESCRIPTION = 500
MAX_URL_CHARS = 2000
EVENT_TYPES = sorted([t.value for t in EventType] + [notices.ENDPOINT_DISABLED])
PROVIDER_NAMES = sorted(PROVIDERS)


class InvalidSubscription(ValueError):
    """One field is wrong; ``code`` is ``unsafe_url`` for an address the SSRF guard refuses."""

    def __init__(self, field: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


async def checked_url(url: object, settings: Settings) -> str:
    """The URL, refused when malformed or when its host is internal (:mod:`hub.webhooks.guard`)."""
    if url is None or url == "":
        raise InvalidSubscription("url", "field 'url' is required")
    if not isinstance(url, str):
        raise InvalidSubscription("url", "field 'url' must be a string")
    if len(url) > MAX_URL_CHARS:
        raise InvalidSubscription("url", f"url must be at most {MAX_URL_CHARS} characters")
    try:
        return await guard.check_destination(url, settings, guard.allowlist(settings))
    except guard.InternalAddress as exc:
        raise InvalidSubscription("url", str(exc), "unsafe_url") from None
    except guard.UnsafeUrl as exc:
        raise InvalidSubscription("url", str(exc)) from None


def names(value: object, field: str, allowed: list[str] | None = None) -> tuple[str, ...]:
    """A list of non-empty strings (each in ``allowed`` when given), without repeats, in order."""
    value = value or []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidSubscription(field, f"field {field!r} must be a list of strings")
    if allowed is not None and (unknown := sorted(set(value) - set(allowed))):
        raise InvalidSubscription(field, f"{field} {unknown} unknown; expected some of {allowed}")
    return tuple(dict.fromkeys(value))


async def changes(body: dict[str, Any], settings: Settings, partial: bool) -> dict[str, Any]:
    """The endpoint fields ``body`` sets (all of them unless ``partial``), checked."""
    found: dict[str, Any] = {}
    if not partial or "url" in body:
        found["url"] = await checked_url(body.get("url"), settings)
    if not partial or "event_types" in body:
        found["event_types"] = names(body.get("event_types"), "event_types", EVENT_TYPES)
    if not partial or "providers" in body:
        found["providers"] = names(body.get("providers"), "providers", PROVIDER_NAMES)
    if not partial or "shipment_ids" in body:
        found["shipment_ids"] = names(body.get("shipment_ids"), "shipment_ids")
    if not partial or "description" in body:
        description = body.get("description") or ""
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidSubscription(
                "description", f"description must be text of at most {MAX_DESCRIPTION} characters"
            )
        found["description"] = description
    return found
