"""When to try a failed delivery again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from hub.settings import Settings


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, as far as retrying cares."""

    status: int | None = None  # None: no HTTP response at all
    timed_out: bool = False
    retry_after: str | None = None  # the response's Retry-After header


def next_wait_s(attempt: int, failure: Failure, settings: Settings, rng: random.Random) -> float | None:
    """Seconds to wait after failed ``attempt`` (1-based); None once the schedule is exhausted."""
    schedule = settings.webhook.retry_schedule_s
    if attempt > len(schedule):
        return None
    jitter = settings.webhook.retry_jitter
    wait_s = schedule[attempt - 1] * rng.uniform(1 - jitter, 1 + jitter)
    if failure.timed_out or failure.status == 429:
        wait_s = max(wait_s, settings.webhook.throttled_min_wait_s)
    asked_s = retry_after_s(failure.retry_after)
    if asked_s is not None:
        wait_s = max(wait_s, min(asked_s, settings.webhook.retry_after_max_s))
    return wait_s


def retry_after_s(header: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None when absent or garbled."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
