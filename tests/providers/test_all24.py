"""all24: the document's tracking example, and the README's traps for it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.errors import NormalizationError, ProviderError
from hub.model.observation import EventType, ProviderStatus
from hub.model.status import Status
from hub.providers import all24

FIXTURES = Path(__file__).parent.parent / "fixtures" / "all24"
BANGKOK = ZoneInfo("Asia/Bangkok")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def track(payload: Any, ref: str | None = "HSBY37H7", tz: Any = BANGKOK) -> list[Any]:
    return all24.normalize(payload, kind="tracking", tz=tz, ref=ref)


def test_all24_example_trace_oldest_first() -> None:
    observations = track(all24.parse_body((FIXTURES / "tracking.json").read_bytes()))

    assert [(o.type, o.status, o.time) for o in observations] == [
        (EventType.STATUS_CHANGED, Status.PENDING, at("2015-08-18T05:00:59")),
        (EventType.STATUS_CHANGED, Status.PICKED_UP, at("2015-08-18T05:01:30")),
        (EventType.STATUS_CHANGED, Status.IN_TRANSIT, at("2015-08-18T05:01:46")),
        (EventType.STATUS_CHANGED, Status.AT_DROPOFF, at("2015-08-18T05:02:00")),
        (EventType.STATUS_CHANGED, Status.DELIVERED, at("2015-08-18T05:02:00")),
    ]


def test_all24_builds_from_example_not_table() -> None:
    # The table says 500000 = "Order received", 100000 = "Arrived at location", 300000 = "Delivered".
    by_code = {o.provider_status.code: o for o in track(load("tracking.json"))}

    assert by_code["500000"].status == Status.DELIVERED
    assert by_code["500000"].provider_status.text == "Delivery complete"
    assert by_code["100000"].status == Status.PICKED_UP
    assert by_code["300000"].status == Status.AT_DROPOFF
    assert by_code["050000"].status == Status.PENDING


def test_all24_event_code_keeps_its_leading_zero_and_event_name() -> None:
    first = track(load("tracking.json"))[0]

    assert first.provider_status == ProviderStatus("050000", "Order received")
    assert isinstance(first.provider_status.code, str)


def test_all24_naive_event_time_takes_payload_offset() -> None:
    # "2015-08-18 12:02:00" is naive; origin_order_date carries +07:00, so even a UTC default zone
    # must not be used: the instant is 05:02:00Z.
    delivered = track(load("tracking.json"), tz=UTC)[-1]

    assert delivered.time == at("2015-08-18T05:02:00")
    assert delivered.time.tzinfo == UTC


def test_all24_naive_event_time_without_any_offset_takes_the_configured_zone() -> None:
    payload = load("tracking.json")
    payload["HSBY37H7"]["origin_order_date"] = "2015-08-18 11:12:00"
    payload["HSBY37H7"]["expected_completion"] = None

    assert track(payload, tz=ZoneInfo("Asia/Tokyo"))[-1].time == at("2015-08-18T03:02:00")


def test_all24_equal_times_keep_trace_order() -> None:
    # 300000 and 500000 share 12:02:00: arrival must come before delivery.
    codes = [o.provider_status.code for o in track(load("tracking.json"))]

    assert codes == ["050000", "100000", "200000", "300000", "500000"]


def test_all24_ids_and_eta() -> None:
    observations = track(load("tracking.json"))

    assert {(o.provider_ref, o.merchant_ref) for o in observations} == {("HSBY37H7", "123abc1")}
    assert {o.eta for o in observations} == {at("2015-08-19T16:59:00")}


def test_all24_event_place_is_kept_in_words() -> None:
    observations = track(load("tracking.json"))

    assert observations[0].extra == {"place": "Fashion F200, Chatuchak, 10900", "location_ref": "abc123"}
    assert observations[2].extra == {"place": "On vehicle, Bangkok"}
    assert observations[0].location is None


@pytest.mark.parametrize(
    ("code", "text"),
    [("401100", "Order cancelled (by customer)"), ("401101", "Order cancelled (by carrier)")],
)
def test_all24_cancellation_codes_are_cancelled(code: str, text: str) -> None:
    payload = load("tracking.json")
    history = payload["HSBY37H7"]["history"]
    history[:] = [
        {**history[-1], "event_code": code, "event_name": text, "event_time": "2015-08-18 12:05:00"},
        history[-1],
    ]

    cancelled = track(payload)[-1]

    assert (cancelled.status, cancelled.provider_status) == (Status.CANCELLED, ProviderStatus(code, text))


def test_unknown_code_is_kept_not_dropped() -> None:
    payload = load("tracking.json")
    payload["HSBY37H7"]["history"][0].update(event_code="450000", event_name="Delivery attempt failed")

    unknown = track(payload)[-1]

    assert (unknown.status, unknown.provider_status) == (
        Status.UNKNOWN,
        ProviderStatus("450000", "Delivery attempt failed"),
    )


def test_all24_third_party_lookup_finds_the_single_order_by_any_key() -> None:
    # Looked up by a third party's number: the response may key the order by all24's own number.
    observations = track(load("tracking.json"), ref="TP-000123")

    assert observations[0].provider_ref == "HSBY37H7"


def test_all24_third_party_ref_picks_its_order_by_the_tracking_number_among_several() -> None:
    # A shipment registered as <customer_id>:<tracking_number> (docs/poller.md) is asked about
    # by that number; all24's own number stays beside it in refs.
    payload = load("tracking.json")
    other = copy.deepcopy(payload["HSBY37H7"])
    other.update(hs_order_ref="HSOTHER1", order_ref_id="999")
    payload["TP-000123"] = payload.pop("HSBY37H7")
    payload["HSOTHER1"] = other

    observations = track(payload, ref="12345:TP-000123")

    assert {(o.merchant_ref, o.refs["hs_order_ref"]) for o in observations} == {("123abc1", "HSBY37H7")}


def test_all24_order_is_picked_by_ref_among_several() -> None:
    payload = load("tracking.json")
    other = copy.deepcopy(payload["HSBY37H7"])
    other.update(hs_order_ref="HSOTHER1", order_ref_id="999")
    payload["HSOTHER1"] = other

    assert track(payload, ref="HSOTHER1")[0].merchant_ref == "999"
    assert track(payload, ref="HSBY37H7")[0].merchant_ref == "123abc1"
    with pytest.raises(NormalizationError, match=r"none matches ref None"):
        track(payload, ref=None)


def test_all24_order_not_found_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as caught:
        track(load("error_order_not_found.json"))

    assert (caught.value.code, caught.value.message) == ("1350", "1350 Order Not found")


def test_all24_response_code_400_without_error_codes_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as caught:
        track({"response_code": "400", "error_codes": []})

    assert caught.value.code == "400"


def test_all24_missing_parameters_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="Missing Parameters"):
        track({"response_code": 400, "error_codes": ["1000"]})


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda o: o.update(history={}), "HSBY37H7.history must be a list"),
        (lambda o: o["history"][1].pop("event_code"), r"HSBY37H7.history\[1\] has no 'event_code'"),
        (
            lambda o: o["history"][4].update(event_code=50000),
            r"event_code must be a string like '050000', got 50000",
        ),
        (
            lambda o: o["history"][2].update(event_time="18/08/2015 12:01"),
            "unreadable time '18/08/2015 12:01'",
        ),
        (lambda o: o["history"][3].pop("event_time"), r"history\[3\].event_time is missing"),
        (lambda o: o.update(expected_completion="tomorrow"), "expected_completion: unreadable time"),
    ],
)
def test_all24_malformed_order_is_a_normalization_error(mutate: Any, reason: str) -> None:
    payload = copy.deepcopy(load("tracking.json"))
    mutate(payload["HSBY37H7"])

    with pytest.raises(NormalizationError, match=reason):
        track(payload)


def test_all24_response_without_an_order_is_a_normalization_error() -> None:
    with pytest.raises(NormalizationError, match="no order object"):
        track({"response_code": 200, "error_codes": []})


def test_all24_body_that_is_not_json_is_a_normalization_error() -> None:
    with pytest.raises(NormalizationError, match="not valid JSON"):
        all24.parse_body(b"<html>502 Bad Gateway</html>")


def test_all24_unknown_kind_is_refused() -> None:
    with pytest.raises(NormalizationError, match="unknown payload kind"):
        all24.normalize({}, kind="webhook", tz=BANGKOK)
