"""How the Webhooks and Operations pages show values: times in UTC, one way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(ms: int | None) -> str:
    """A time in ms since the epoch as ``2026-04-04 10:30:05 UTC`` ('' for none)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
