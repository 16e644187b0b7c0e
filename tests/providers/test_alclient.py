"""Client API (000): the assumed tracking shape, its error bodies, and the README's traps.

The document shows no tracking response; ``tracking_assumed_shape.json`` is the shape the
module's docstring writes down, built from the document's status table and field names.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.errors import NormalizationError, ProviderError
from hub.model.observation import EventType, Location, ProviderStatus
from hub.model.status import Status
from hub.providers import alclient, hld

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alclient"
KOLKATA = ZoneInfo("Asia/Kolkata")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def track(payload: Any, ref: str | None = None, tz: Any = KOLKATA) -> list[Any]:
    return alclient.normalize(payload, kind="tracking", tz=tz, ref=ref)


def test_alclient_history_gives_one_status_change_each() -> None:
    observations = track(load("tracking_assumed_shape.json"))
    statuses = [o for o in observations if o.type == EventType.STATUS_CHANGED]

    assert [(o.status, o.time) for o in statuses] == [
        (Status.PENDING, at("2026-04-05T02:30:00")),
        (Status.COURIER_ASSIGNED, at("2026-04-05T02:50:00")),
        (Status.COURIER_ASSIGNED, at("2026-04-05T03:15:00")),
        (Status.IN_TRANSIT, at("2026-04-05T04:10:00")),
    ]
    assert [o.provider_status for o in statuses] == [
        ProviderStatus(1, "Created"),
        ProviderStatus(2, "Assigned"),
        ProviderStatus(3, "Pickup Pending"),
        ProviderStatus(4, "In Transit"),
    ]
    assert statuses[3].location == Location(18.76, 73.4)


def test_alclient_ids_order_id_is_provider_ref_and_customer_order_no_is_merchant_ref() -> None:
    observations = track(load("tracking_assumed_shape.json"), ref="99999")

    assert {(o.provider_ref, o.merchant_ref) for o in observations} == {("10245", "ORD-2026-001")}


def test_alclient_current_location_becomes_a_location_update_at_updated_at() -> None:
    position = track(load("tracking_assumed_shape.json"))[-1]

    assert position.type == EventType.LOCATION_UPDATED
    assert (position.location, position.time, position.status) == (
        Location(18.76, 73.4),
        at("2026-04-05T04:10:00"),
        Status.IN_TRANSIT,
    )


def test_alclient_code_4_is_in_transit_but_hld_4_is_delivered() -> None:
    [in_transit] = [
        o
        for o in track(load("tracking_assumed_shape.json"))
        if o.provider_status == ProviderStatus(4, "In Transit")
    ]

    assert in_transit.status == Status.IN_TRANSIT
    assert hld.STATUSES.map(4) == Status.DELIVERED


def test_alclient_code_11_is_attempted_and_returned_not_completed() -> None:
    payload = {"data": {"order_id": 7, "status": 11, "updated_at": "2026-04-06T10:00:00+05:30"}}

    [observation] = track(payload)

    assert observation.status == Status.RETURNED
    assert observation.provider_status == ProviderStatus(11, "Attempted and Returned")
    assert hld.STATUSES.map(11) == Status.DELIVERED


def test_alclient_naive_history_time_takes_the_payload_offset() -> None:
    # updated_at carries +05:30; the naive history times take it even when the configured zone is UTC.
    first = track(load("tracking_assumed_shape.json"), tz=UTC)[0]

    assert first.time == at("2026-04-05T02:30:00")


def test_alclient_naive_times_without_any_offset_take_the_configured_zone() -> None:
    payload = load("tracking_assumed_shape.json")
    payload["data"].pop("updated_at")

    first = track(payload)[0]

    assert first.time == at("2026-04-05T02:30:00")
    assert first.time.tzinfo == UTC


def test_alclient_current_status_missing_from_history_is_added_at_updated_at() -> None:
    payload = load("tracking_assumed_shape.json")
    payload["data"].update(status=5, status_text="Out for Delivery", updated_at="2026-04-05T11:05:00+05:30")

    current = [o for o in track(payload) if o.type == EventType.STATUS_CHANGED][-1]

    assert (current.status, current.time) == (Status.OUT_FOR_DELIVERY, at("2026-04-05T05:35:00"))
    assert current.provider_status == ProviderStatus(5, "Out for Delivery")


def test_alclient_current_status_without_updated_at_takes_the_latest_history_time() -> None:
    payload = load("tracking_assumed_shape.json")
    payload["data"].pop("updated_at")
    payload["data"].update(status=5, status_text=None)

    current = [o for o in track(payload) if o.type == EventType.STATUS_CHANGED][-1]

    assert (current.time, current.provider_status) == (
        at("2026-04-05T04:10:00"),
        ProviderStatus(5, "Out for Delivery"),
    )


def test_alclient_accepts_the_object_without_the_data_wrapper() -> None:
    payload = load("tracking_assumed_shape.json")

    assert track(payload["data"]) == track(payload)


def test_alclient_order_no_and_timestamp_spellings_are_accepted() -> None:
    payload = {
        "order_no": 10245,
        "status": 6,
        "status_history": [{"status": 6, "timestamp": "2026-04-05T12:00:00+05:30"}],
    }

    [delivered] = track(payload)

    assert (delivered.provider_ref, delivered.status, delivered.time) == (
        "10245",
        Status.DELIVERED,
        at("2026-04-05T06:30:00"),
    )


def test_alclient_ref_is_used_when_the_response_omits_the_order_id() -> None:
    payload = {"status": 1, "updated_at": "2026-04-05T08:00:00+05:30"}

    assert track(payload, ref="10245")[0].provider_ref == "10245"


def test_unknown_code_is_kept_not_dropped() -> None:
    payload = {"order_id": 1, "status": 42, "status_text": "Held", "updated_at": "2026-04-05T08:00:00+05:30"}

    [observation] = track(payload)

    assert (observation.status, observation.provider_status) == (Status.UNKNOWN, ProviderStatus(42, "Held"))


@pytest.mark.parametrize(
    ("fixture", "code", "message"),
    [
        ("error_401_unauthenticated.json", "UNAUTHENTICATED", "Unauthenticated."),
        (
            "error_422_validation.json",
            "VALIDATION_FAILED",
            "Validation failed; field: Specific validation message",
        ),
        ("error_400_bad_request.json", "VALIDATION_FAILED", "field_name: The field_name is required."),
        ("error_500.json", "ERROR", "An error occurred. Please try again later."),
    ],
)
def test_alclient_message_without_data_is_a_provider_error(fixture: str, code: str, message: str) -> None:
    with pytest.raises(ProviderError) as caught:
        track(load(fixture))

    assert caught.value.code == code
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(status="4"), "status must be an integer status code, got '4'"),
        (lambda d: d.update(status=None), "status must be an integer status code"),
        (lambda d: d.update(status_history={}), "status_history must be a list"),
        (lambda d: d["status_history"][1].pop("created_at"), r"status_history\[1\] has neither 'created_at'"),
        (
            lambda d: d["status_history"][0].update(status=1.0),
            r"status_history\[0\].status must be an integer",
        ),
        (lambda d: d["status_history"][2].update(created_at="05/04/2026"), "unreadable time '05/04/2026'"),
        (lambda d: d.update(order_id="10245"), "order_id must be an integer"),
    ],
)
def test_alclient_anything_but_the_assumed_shape_is_a_normalization_error(mutate: Any, reason: str) -> None:
    payload = copy.deepcopy(load("tracking_assumed_shape.json"))
    mutate(payload["data"])

    with pytest.raises(NormalizationError, match=reason):
        track(payload)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "must be a JSON object, got list"),
        ({"data": [1]}, "'data' must be a JSON object, got list"),
        ({"order": {"status": 1}}, r"not a tracking response: expected .*got keys \['order'\]"),
        ({"status": 1}, "no order_id/order_no and no ref"),
        ({"order_id": 1, "status": 1}, "current status has no time"),
    ],
)
def test_alclient_unreadable_responses_say_why(payload: Any, reason: str) -> None:
    with pytest.raises(NormalizationError, match=reason):
        track(payload)


def test_alclient_pickup_pending_is_courier_assigned_not_at_pickup() -> None:
    assert alclient.STATUSES.map(3) == Status.COURIER_ASSIGNED


def test_alclient_flow_of_the_readme_maps_in_order() -> None:
    assert [alclient.STATUSES.map(code) for code in range(1, 12)] == [
        Status.PENDING,
        Status.COURIER_ASSIGNED,
        Status.COURIER_ASSIGNED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.DELIVERED,
        Status.CANCELLED,
        Status.RETURNED,
        Status.DELIVERED,
        Status.RETURNED,
        Status.RETURNED,
    ]


def test_alclient_unknown_kind_is_refused() -> None:
    with pytest.raises(NormalizationError, match="unknown payload kind"):
        alclient.normalize({}, kind="webhook", tz=KOLKATA)


def test_alclient_status_that_comes_back_is_reported_again() -> None:
    # 2 Assigned → 3 Pickup Pending → 2 Assigned again (another courier), set at updated_at.
    payload = load("tracking_assumed_shape.json")
    payload["data"].update(
        status=2, status_text="Assigned", updated_at="2026-04-05T09:00:00+05:30", current_location=None
    )
    payload["data"]["status_history"] = payload["data"]["status_history"][:3]

    statuses = track(payload)

    assert [(o.provider_status.code, o.time, o.undated) for o in statuses[-2:]] == [
        (3, at("2026-04-05T03:15:00"), False),
        (2, at("2026-04-05T03:30:00"), False),
    ]


def test_alclient_status_that_comes_back_without_a_newer_time_is_undated() -> None:
    payload = load("tracking_assumed_shape.json")
    payload["data"].update(status=2, status_text="Assigned", current_location=None)
    del payload["data"]["updated_at"]
    payload["data"]["status_history"] = payload["data"]["status_history"][:3]

    current = track(payload)[-1]

    assert (current.provider_status.code, current.undated, current.time) == (
        2,
        True,
        at("2026-04-05T03:15:00"),
    )


def test_alclient_current_status_equal_to_the_newest_entry_is_not_repeated() -> None:
    statuses = [o for o in track(load("tracking_assumed_shape.json")) if o.type == EventType.STATUS_CHANGED]

    assert [o.provider_status.code for o in statuses] == [1, 2, 3, 4]
