"""Alopeyk's quota headers (minute and day, no reset time): hold only until the window ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis.asyncio import Redis

from hub import keys
from hub.clients import RateLimited, _http, account_id
from hub.clients.quota import RECHECK_S, rate_headers
from hub.registry import shipments
from hub.settings import Settings
from tests.poller.conftest import Emulators
from workers.poll import Poller

TEHRAN = ZoneInfo("Asia/Tehran")


def headers(minute: int, daily: int, minute_id: str | None, daily_id: str | None) -> dict[str, str]:
    """The document's response headers (``Identifier`` is ``[IP]:[YYYY]-[MM]-[DD]-[hh]-[mm]``)."""
    sent = {
        "X-MinuteRateLimit-Limit": "100",
        "X-MinuteRateLimit-Remaining": str(minute),
        "X-DailyRateLimit-Limit": "43200",
        "X-DailyRateLimit-Remaining": str(daily),
    }
    if minute_id is not None:
        sent["X-MinuteRateLimit-Identifier"] = minute_id
    if daily_id is not None:
        sent["X-DailyRateLimit-Identifier"] = daily_id
    return sent


def tehran(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TEHRAN).astimezone(UTC)


def test_daily_quota_spent_holds_until_the_named_day_ends_not_a_whole_day() -> None:
    now = tehran("2026-11-25 23:50:20")
    sent = headers(40, 0, "5.6.7.8:2026-11-25-23-50", "5.6.7.8:2026-11-25-23-50")

    assert rate_headers(sent, TEHRAN, now) == (0, pytest.approx(580.0))  # 9 min 40 s to midnight


def test_daily_quota_spent_without_an_identifier_holds_until_the_next_midnight() -> None:
    now = tehran("2026-11-25 06:00:00")

    assert rate_headers(headers(40, 0, None, None), TEHRAN, now) == (0, pytest.approx(18 * 3600.0))


def test_minute_quota_spent_holds_until_the_next_minute_only() -> None:
    now = tehran("2026-11-25 10:31:45")
    sent = headers(0, 30_000, "5.6.7.8:2026-11-25-10-31", "5.6.7.8:2026-11-25-10-31")

    assert rate_headers(sent, TEHRAN, now) == (0, pytest.approx(15.0))


def test_both_quotas_spent_hold_until_the_later_refill() -> None:
    now = tehran("2026-11-25 22:00:30")
    sent = headers(0, 0, "5.6.7.8:2026-11-25-22-00", "5.6.7.8:2026-11-25-22-00")

    assert rate_headers(sent, TEHRAN, now) == (0, pytest.approx(7170.0))


def test_a_day_the_provider_has_not_yet_rolled_over_is_asked_again_soon() -> None:
    # Our clock is past the day the identifier names (another zone, clock skew): a short recheck.
    now = tehran("2026-11-26 00:00:05")
    sent = headers(40, 0, None, "5.6.7.8:2026-11-25-23-59")

    assert rate_headers(sent, TEHRAN, now) == (0, RECHECK_S)


def test_an_explicit_reset_wins_in_seconds_or_as_a_unix_time() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    in_seconds = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}
    at_time = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now.timestamp() + 90)}

    assert rate_headers(in_seconds, UTC, now) == (0, 42.0)
    assert rate_headers(at_time, UTC, now) == (0, pytest.approx(90.0))


def test_an_explicit_reset_never_holds_longer_than_its_window() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    minute = {"X-MinuteRateLimit-Remaining": "0", "X-MinuteRateLimit-Reset": "500000000"}
    unnamed = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now.timestamp() + 10 * 86_400)}

    assert rate_headers(minute, UTC, now) == (0, 60.0)
    assert rate_headers(unnamed, UTC, now) == (0, 86_400.0)


@pytest.mark.parametrize(
    "identifier",
    ["", "garbage", "5.6.7.8:2026-13-45-99-99", "::1:9999-12-31-23-59", "x:2026-11-25\udcff", "9" * 5000],
)
def test_hostile_identifiers_never_hold_longer_than_the_window(identifier: str) -> None:
    now = tehran("2026-11-25 12:00:00")

    remaining, reset_s = rate_headers(headers(5, 0, identifier, identifier), TEHRAN, now)

    assert remaining == 0 and reset_s is not None and 0 < reset_s <= 86_400


@pytest.mark.parametrize("reset", ["nan", "inf", "-inf", "1e400", "soon"])
def test_unusable_reset_values_fall_back_to_the_window(reset: str) -> None:
    now = tehran("2026-11-25 10:31:45")
    sent = {"X-MinuteRateLimit-Remaining": "0", "X-MinuteRateLimit-Reset": reset}

    assert rate_headers(sent, TEHRAN, now) == (0, pytest.approx(15.0))


def test_no_quota_headers_say_nothing() -> None:
    assert rate_headers({"X-MinuteRateLimit-Remaining": "many"}, TEHRAN) == (None, None)


async def test_alopeyk_daily_quota_spent_holds_polls_only_until_tehran_midnight(
    redis: Redis, poller: Poller, emulators: Emulators, poll_settings: Settings
) -> None:
    shipment, _ = await shipments.register(redis, "m1", "alopeyk", "99101")
    long_ago_ms = int(time.time() * 1000) - 60_000  # its webhooks went quiet: due for reconciliation
    await redis.hset(
        keys.shipment(shipment.id), mapping={"created_ms": long_ago_ms, "last_event_ms": long_ago_ms}
    )
    hour_ago_s = time.time() - 3600  # 43,199 requests today, none this minute: the next leaves 0 for the day
    emulators.emulator("alopeyk").knobs.log.times_s.extend([hour_ago_s] * 43_199)

    assert (await poller.poll_one(shipment.id)).result == "polled"

    now = datetime.now(UTC)
    midnight = datetime.combine(
        now.astimezone(TEHRAN).date() + timedelta(days=1), datetime.min.time(), TEHRAN
    )
    held_ms = await redis.pttl(keys.provider_slowdown("alopeyk", account_id(poll_settings, "alopeyk")))
    assert 0 < held_ms <= (midnight - now).total_seconds() * 1000 + 2_000, "held past the provider's day"


def refused(headers: dict[str, str]) -> RateLimited:
    request = httpx.Request("GET", "http://127.0.0.1/api/v2/orders/1")
    with pytest.raises(RateLimited) as caught:
        _http.check("alopeyk", httpx.Response(429, headers=headers, request=request), TEHRAN)
    return caught.value


def test_a_429_without_retry_after_waits_for_the_empty_window_it_reports() -> None:
    now = datetime.now(UTC)
    midnight = datetime.combine(
        now.astimezone(TEHRAN).date() + timedelta(days=1), datetime.min.time(), TEHRAN
    )

    held_s = refused(headers(40, 0, None, None)).retry_after_s

    assert 0 < held_s <= (midnight - now).total_seconds() + 1


def test_a_429_with_retry_after_or_no_quota_headers_keeps_its_rules() -> None:
    assert refused({"Retry-After": "7", **headers(40, 0, None, None)}).retry_after_s == 7.0
    assert refused({}).retry_after_s == _http.DEFAULT_RETRY_AFTER_S
