"""Provider times to aware UTC instants.

Providers mix zoned and naive times in one payload. A naive time takes the offset
found elsewhere in the same payload, else the provider's configured zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y%m%d %H%M%S",  # UPS via ALOD: date "20220419" + time "155720"
    "%d %b, %Y %I:%M %p",  # HLD order list: "04 Apr, 2026 10:30 am"
)

_OFFSET = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")


def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def parse(value: str, default_zone: tzinfo) -> datetime:
    """Parse a provider time string; raise ``ValueError`` with the value when unreadable."""
    text = value.strip()
    if not text:
        raise ValueError("empty time")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = _parse_naive(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed.astimezone(UTC)


def parse_optional(value: object, default_zone: tzinfo) -> datetime | None:
    """Like :func:`parse` but ``None``/empty strings (providers' "not yet") give ``None``."""
    if value is None or value == "":
        return None
    return parse(str(value), default_zone)


def offset_in(*values: object) -> tzinfo | None:
    """The first UTC offset carried by any of ``values`` (zoned ISO strings), if one does."""
    for value in values:
        if not isinstance(value, str) or not _OFFSET.search(value.strip()):
            continue
        try:
            found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if found.utcoffset() is not None:
            return timezone(found.utcoffset() or timedelta(0))
    return None


def _parse_naive(text: str) -> datetime:
    for fmt in _NAIVE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable time {text!r}")


def rfc3339(instant: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the one time format the hub emits."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
