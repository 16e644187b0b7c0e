"""A provider's quota headers: how many requests are left, and until when to hold when none are.

Alopeyk sends ``X-MinuteRateLimit-*`` and ``X-DailyRateLimit-*``: ``Limit``, ``Remaining``
and an ``Identifier`` naming the window (``[IP]:[YYYY]-[MM]-[DD]-[hh]-[mm]``), but no reset
time. A window it names is a period of the clock (this minute, this day), so an empty one
refills when that period ends: at the next minute, or at the next midnight of the day the
identifier names, in the provider's zone. Holding for the window's whole length instead
froze polling for up to a day after the daily count reached 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta, tzinfo

MINUTE_S, DAY_S = 60.0, 86_400.0
# When the identifier names a period our clock says is over (another zone, a skewed clock),
# the provider has not rolled over yet: ask again this soon rather than wait a whole window.
RECHECK_S = 60.0
EPOCH_AFTER_S = 1e9  # a Reset value this large is a Unix time, not a number of seconds
_PERIOD = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:-(\d{2})(?:-(\d{2}))?)?$")


def rate_headers(
    headers: Mapping[str, str], tz: tzinfo = UTC, now: datetime | None = None
) -> tuple[int | None, float | None]:
    """``(remaining, seconds until it refills)`` of the tightest ``X-*RateLimit-*`` window.

    The lowest ``Remaining`` wins; between windows equally low, the one that refills last
    (with both minute and day at 0, waiting out the minute would only meet the day's 0).
    """
    now = now or datetime.now(UTC)
    windows: list[tuple[int, float | None]] = []
    for name, value in headers.items():
        name = name.lower()
        if not (name.startswith("x-") and name.endswith("ratelimit-remaining")):
            continue
        try:
            remaining = int(value)
        except ValueError:
            continue
        windows.append((remaining, _reset_s(headers, name.removesuffix("remaining"), now, tz)))
    if not windows:
        return None, None
    return min(windows, key=lambda window: (window[0], -(window[1] or 0.0)))


def _reset_s(headers: Mapping[str, str], prefix: str, now: datetime, tz: tzinfo) -> float | None:
    window_s = MINUTE_S if "minute" in prefix else DAY_S if ("daily" in prefix or "day" in prefix) else None
    explicit = _float(_header(headers, prefix + "reset"))
    if explicit is not None:  # never longer than the window it resets (a day when unnamed)
        wait_s = explicit - now.timestamp() if explicit > EPOCH_AFTER_S else explicit
        return min(max(0.0, wait_s), window_s or DAY_S)
    if window_s is None:
        return None
    return until_window_end(_header(headers, prefix + "identifier"), window_s, now, tz)


def until_window_end(identifier: str | None, window_s: float, now: datetime, tz: tzinfo) -> float:
    """Seconds from ``now`` to the end of the minute or day ``identifier`` names (else the current one)."""
    named = _named_period(identifier)
    start = named.replace(tzinfo=tz) if named else now.astimezone(tz)
    try:
        if window_s == MINUTE_S:
            end = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        else:
            end = datetime.combine(start.date() + timedelta(days=1), time(), tz)
    except OverflowError:  # a period at the end of the calendar: nothing sensible to wait for
        return min(RECHECK_S, window_s)
    wait_s = (end - now).total_seconds()
    return min(wait_s, window_s) if wait_s > 0 else min(RECHECK_S, window_s)


def _named_period(identifier: str | None) -> datetime | None:
    """The naive local time ``[YYYY]-[MM]-[DD][-[hh]-[mm]]`` at the end of an identifier."""
    found = _PERIOD.search(identifier.strip()) if identifier else None
    if not found:
        return None
    year, month, day, hour, minute = (int(part) if part else 0 for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def _header(headers: Mapping[str, str], lower_name: str) -> str | None:
    value = headers.get(lower_name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == lower_name), None)


def _float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
