"""The retry schedule: jitter within bounds, slower after 429/timeouts, Retry-After honoured up to a cap."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hub.settings import Settings
from hub.webhooks.retry import Failure, next_wait_s, retry_after_s

DEFAULTS = Settings()


def test_the_default_schedule_with_twenty_percent_jitter_then_gives_up() -> None:
    rng = random.Random(7)
    expected = (5, 300, 1800, 7200, 18000, 36000, 36000)
    for attempt, base_s in enumerate(expected, start=1):
        waits = [next_wait_s(attempt, Failure(500), DEFAULTS, rng) for _ in range(200)]
        assert all(w is not None and base_s * 0.8 <= w <= base_s * 1.2 for w in waits)
        assert max(w for w in waits if w) - min(w for w in waits if w) > base_s * 0.2  # really jittered
    assert next_wait_s(len(expected) + 1, Failure(500), DEFAULTS, rng) is None


def test_a_timeout_or_429_waits_at_least_a_minute() -> None:
    rng = random.Random(1)
    for failure in (Failure(429), Failure(None, timed_out=True)):
        wait_s = next_wait_s(1, failure, DEFAULTS, rng)
        assert wait_s is not None and wait_s >= 60
    early = next_wait_s(1, Failure(503), DEFAULTS, rng)
    assert early is not None and early < 10


def test_retry_after_is_honoured_in_seconds_or_as_a_date_but_capped() -> None:
    rng = random.Random(1)
    wait_s = next_wait_s(1, Failure(503, retry_after="120"), DEFAULTS, rng)
    assert wait_s == 120
    capped = next_wait_s(1, Failure(429, retry_after="9999999"), DEFAULTS, rng)
    assert capped == DEFAULTS.webhook.retry_after_max_s
    now = datetime(2026, 4, 4, 10, 0, tzinfo=UTC)
    assert retry_after_s(format_datetime(now + timedelta(minutes=3), usegmt=True), now) == 180
    assert retry_after_s("soon") is None and retry_after_s(None) is None
    short = next_wait_s(2, Failure(503, retry_after="1"), DEFAULTS, rng)  # never sooner than the schedule
    assert short is not None and short >= 300 * 0.8
