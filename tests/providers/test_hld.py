"""HLD: the document's own examples, and the traps the README lists for HLD."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub import providers
from hub.errors import NormalizationError, ProviderError
from hub.model.observation import Courier, EventType, Location, ProviderStatus
from hub.model.status import Status
from hub.providers import alclient, hld

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hld"
KOLKATA = ZoneInfo("Asia/Kolkata")
TOKEN = "HLD67890ABCDEF"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def track(payload: Any) -> list[Any]:
    return hld.normalize(payload, kind="tracking", tz=KOLKATA, ref=TOKEN)


def test_hld_tracking_example_gives_history_then_current_status_then_position() -> None:
    observations = track(load("tracking_on_the_way.json"))

    assert [(o.type, o.status, o.time) for o in observations] == [
        (EventType.STATUS_CHANGED, Status.PENDING, at("2026-04-04T10:30:00")),
        (EventType.STATUS_CHANGED, Status.COURIER_ASSIGNED, at("2026-04-04T10:33:00")),
        (EventType.STATUS_CHANGED, Status.PICKED_UP, at("2026-04-04T10:48:00")),
        (EventType.STATUS_CHANGED, Status.OUT_FOR_DELIVERY, at("2026-04-04T10:48:00")),
        (EventType.LOCATION_UPDATED, Status.OUT_FOR_DELIVERY, at("2026-04-04T10:48:00")),
    ]
    assert [o.provider_status for o in observations[:4]] == [
        ProviderStatus(1, "OrderPlaced"),
        ProviderStatus(2, "ExecutiveAssigned"),
        ProviderStatus(3, "PickedUp"),
        ProviderStatus(25, "On the Way"),
    ]


def test_hld_provider_ref_is_the_tracking_token_and_order_id_goes_to_refs() -> None:
    observations = track(load("tracking_on_the_way.json"))

    assert {o.provider_ref for o in observations} == {TOKEN}
    assert all(o.refs == {"order_id": "HLD2026040412345"} for o in observations)


def test_hld_tracking_keeps_update_locations_courier_and_eta() -> None:
    observations = track(load("tracking_on_the_way.json"))

    assert observations[2].location == Location(18.9492, 72.8315)
    assert observations[-1].location == Location(19.0176, 72.8301)
    assert observations[-1].courier == Courier(name="Rajesh Kumar", phone="9876543212")
    assert {o.eta for o in observations} == {at("2026-04-04T11:15:00")}


def test_hld_status_25_missing_from_table_maps_to_out_for_delivery() -> None:
    from_tracking = track(load("tracking_on_the_way.json"))[3]
    from_pusher = hld.normalize(
        load("pusher_order_status_changed.json"),
        kind="pusher:hld.order.status_changed",
        tz=KOLKATA,
        ref=TOKEN,
    )[0]

    assert from_tracking.status == from_pusher.status == Status.OUT_FOR_DELIVERY
    assert from_tracking.provider_status == from_pusher.provider_status == ProviderStatus(25, "On the Way")


def test_hld_current_status_not_in_updates_is_undated_anchored_at_the_latest_known_time() -> None:
    # 25 has no timestamp field of its own: HLD does not say when it was reached. The latest
    # time the response knows (pickup, 10:48) is only a lower bound, and the observation says so.
    observations = track(load("tracking_on_the_way.json"))
    current = observations[3]

    assert (current.time, current.undated) == (at("2026-04-04T10:48:00"), True)
    assert not any(o.undated for o in observations[:3])


def test_hld_delivered_without_completed_at_is_undated_not_dated_at_pickup() -> None:
    # The case: 4 (Delivered) in the tracking response, completed_at null.
    payload = load("tracking_on_the_way.json")
    payload["data"].update(status=4, status_text="Delivered")

    current = [o for o in track(payload) if o.type == EventType.STATUS_CHANGED][-1]

    assert (current.status, current.provider_status, current.undated) == (
        Status.DELIVERED,
        ProviderStatus(4, "Delivered"),
        True,
    )


def rejected_and_reassigned(**data: Any) -> Any:
    """2 → 10 → 2: the executive rejected at 10:36 and the order was reassigned (current 2)."""
    payload = load("tracking_on_the_way.json")
    rejected = {"status": 10, "timestamp": "2026-04-04T10:36:00Z", "location": {"lat": 18.95, "lng": 72.83}}
    updates = [*payload["data"]["real_time_updates"][:2], rejected]
    payload["data"].update(
        status=2,
        status_text="ExecutiveAssigned",
        pickup_completed_at=None,
        real_time_updates=updates,
        executive=None,
        **data,
    )
    return payload


def test_hld_status_that_comes_back_is_reported_again() -> None:
    statuses = [o for o in track(rejected_and_reassigned()) if o.type == EventType.STATUS_CHANGED]

    assert [(o.provider_status.code, o.status) for o in statuses if o.provider_status] == [
        (1, Status.PENDING),
        (2, Status.COURIER_ASSIGNED),
        (10, Status.SEARCHING_COURIER),
        (2, Status.COURIER_ASSIGNED),
    ]
    # assigned_at (10:33) dates the first assignment, not this one: the second 2 is undated.
    assert (statuses[-1].undated, statuses[-1].time) == (True, at("2026-04-04T10:36:00"))


def test_hld_status_that_comes_back_takes_its_field_when_it_is_newer() -> None:
    statuses = track(rejected_and_reassigned(assigned_at="2026-04-04T10:39:00Z"))

    assert (statuses[-1].provider_status.code, statuses[-1].undated, statuses[-1].time) == (
        2,
        False,
        at("2026-04-04T10:39:00"),
    )


def test_hld_current_status_takes_its_own_timestamp_field() -> None:
    payload = load("tracking_on_the_way.json")
    payload["data"].update(status=4, status_text="Delivered", completed_at="2026-04-04T11:09:00Z")

    current = track(payload)[3]

    assert (current.status, current.time) == (Status.DELIVERED, at("2026-04-04T11:09:00"))
    assert current.provider_status == ProviderStatus(4, "Delivered")


def test_hld_current_status_already_in_updates_is_not_repeated() -> None:
    payload = load("tracking_on_the_way.json")
    payload["data"].update(status=3, status_text="Picked Up")

    statuses = [o for o in track(payload) if o.type == EventType.STATUS_CHANGED]

    assert [o.provider_status.code for o in statuses if o.provider_status] == [1, 2, 3]


def test_hld_cancel_response_code_17_is_cancelled_at_cancelled_at() -> None:
    observations = track(load("cancel_response.json"))

    assert len(observations) == 1
    assert observations[0].status == Status.CANCELLED
    assert observations[0].provider_status == ProviderStatus(17, "Cancelled")
    assert observations[0].time == at("2026-04-04T10:32:00")


def test_hld_code_4_is_delivered_but_alclient_4_is_in_transit() -> None:
    payload = load("tracking_on_the_way.json")
    payload["data"].update(status=4, status_text="Delivered", completed_at="2026-04-04T11:09:00Z")

    assert track(payload)[3].status == Status.DELIVERED
    assert alclient.STATUSES.map(4) == Status.IN_TRANSIT


@pytest.mark.parametrize(
    ("code", "hld_status", "alclient_status"),
    [
        (7, Status.CANCELLED, Status.CANCELLED),  # SystemCancelled vs Cancelled: same word, different cause
        (9, Status.DELIVERED, Status.DELIVERED),  # PaymentReceived vs Delivered (Final)
        (11, Status.DELIVERED, Status.RETURNED),  # Completed vs Attempted and Returned
    ],
)
def test_hld_codes_7_9_11_mean_other_things_than_in_alclient(
    code: int, hld_status: Status, alclient_status: Status
) -> None:
    assert hld.STATUSES.map(code) == hld_status
    assert alclient.STATUSES.map(code) == alclient_status
    assert hld.STATUSES.text(code) != alclient.STATUSES.text(code)


def test_hld_flow_of_the_readme_maps_in_order() -> None:
    flow = [1, 13, 2, 24, 3, 25, 4, 9, 11, 17, 7, 10]

    assert [hld.STATUSES.map(code) for code in flow] == [
        Status.PENDING,
        Status.SEARCHING_COURIER,
        Status.COURIER_ASSIGNED,
        Status.COURIER_ASSIGNED,
        Status.PICKED_UP,
        Status.OUT_FOR_DELIVERY,
        Status.DELIVERED,
        Status.DELIVERED,
        Status.DELIVERED,
        Status.CANCELLED,
        Status.CANCELLED,
        Status.SEARCHING_COURIER,
    ]


def test_unknown_code_is_kept_not_dropped() -> None:
    payload = load("pusher_order_status_changed.json")
    payload["order"].update(status=99, status_text="Held at Hub")
    payload["tracking_entry"]["status"] = 99

    [observation] = hld.normalize(payload, kind="pusher:hld.order.status_changed", tz=KOLKATA, ref=TOKEN)

    assert observation.status == Status.UNKNOWN
    assert observation.provider_status == ProviderStatus(99, "Held at Hub")


def test_hld_unknown_code_in_tracking_updates_is_kept() -> None:
    payload = load("tracking_on_the_way.json")
    payload["data"]["real_time_updates"].append({"status": 99, "timestamp": "2026-04-04T10:49:00Z"})

    unknown = track(payload)[3]

    assert (unknown.status, unknown.provider_status) == (Status.UNKNOWN, ProviderStatus(99, None))


def test_hld_pusher_status_changed_example() -> None:
    [observation] = hld.normalize(
        load("pusher_order_status_changed.json"),
        kind="pusher:hld.order.status_changed",
        tz=KOLKATA,
        ref=TOKEN,
    )

    assert observation.type == EventType.STATUS_CHANGED
    assert observation.time == at("2026-04-04T10:50:00")
    assert observation.provider_ref == TOKEN
    assert observation.refs == {"order_id": "HLD2026040412345"}


def test_hld_pusher_location_updated_example() -> None:
    [observation] = hld.normalize(
        load("pusher_executive_location_updated.json"),
        kind="pusher:executive.location_updated",
        tz=KOLKATA,
        ref=TOKEN,
    )

    assert observation.type == EventType.LOCATION_UPDATED
    assert observation.time == at("2026-04-04T11:02:30")
    assert observation.location == Location(19.0176, 72.8301)
    assert observation.courier == Courier(id="EXC-001")
    assert observation.status is None


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("pusher:hld.order.status_changed", "pusher_order_status_changed.json"),
        ("pusher:executive.location_updated", "pusher_executive_location_updated.json"),
    ],
)
def test_hld_pusher_data_arrives_as_a_json_string_inside_the_frame(kind: str, fixture: str) -> None:
    decoded = load(fixture)
    frame = {
        "event": kind.removeprefix("pusher:"),
        "channel": f"hld.order.{TOKEN}",
        "data": json.dumps(decoded),
    }

    from_string = hld.normalize(frame["data"], kind=kind, tz=KOLKATA, ref=TOKEN)

    assert from_string == hld.normalize(decoded, kind=kind, tz=KOLKATA, ref=TOKEN)


def test_hld_naive_time_takes_the_configured_zone() -> None:
    payload = load("pusher_executive_location_updated.json")
    payload["timestamp"] = "2026-04-04 16:32:30"

    [observation] = hld.normalize(payload, kind="pusher:executive.location_updated", tz=KOLKATA, ref=TOKEN)

    assert observation.time == at("2026-04-04T11:02:30")


def test_hld_every_time_is_aware_utc() -> None:
    for observation in track(load("tracking_on_the_way.json")):
        assert observation.time.utcoffset() is not None
        assert observation.time.tzinfo == UTC


def test_hld_invalid_token_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="Invalid tracking token") as caught:
        track(load("tracking_invalid_token.json"))

    assert caught.value.provider == "hld"


def test_hld_provider_error_keeps_error_code() -> None:
    body = {"success": False, "message": "Order is not an HLD type order", "error_code": "NOT_HLD_ORDER"}

    with pytest.raises(ProviderError) as caught:
        track(body)

    assert caught.value.code == "NOT_HLD_ORDER"


def test_hld_requires_the_tracking_token_as_ref() -> None:
    with pytest.raises(NormalizationError, match="tracking token"):
        hld.normalize(load("tracking_on_the_way.json"), kind="tracking", tz=KOLKATA)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("success"), "'success': true"),
        (lambda p: p.update(data=[]), "'data' must be a JSON object, got list"),
        (lambda p: p["data"].update(real_time_updates={}), "real_time_updates must be a list"),
        (lambda p: p["data"]["real_time_updates"][1].pop("timestamp"), r"real_time_updates\[1\].timestamp"),
        (
            lambda p: p["data"]["real_time_updates"][0].update(timestamp="yesterday"),
            "unreadable time 'yesterday'",
        ),
        (
            lambda p: p["data"]["real_time_updates"][2].pop("status"),
            r"real_time_updates\[2\] has no 'status'",
        ),
        (lambda p: p["data"].pop("status"), "tracking data has no 'status'"),
    ],
)
def test_hld_malformed_tracking_is_a_normalization_error(mutate: Any, reason: str) -> None:
    payload = copy.deepcopy(load("tracking_on_the_way.json"))
    mutate(payload)

    with pytest.raises(NormalizationError, match=reason):
        track(payload)


def test_hld_tracking_without_any_time_is_a_normalization_error() -> None:
    payload = {"success": True, "data": {"order_id": "HLD1", "status": 25}}

    with pytest.raises(NormalizationError, match="no time at all"):
        track(payload)


def test_hld_pusher_string_that_is_not_json_is_a_normalization_error() -> None:
    with pytest.raises(NormalizationError, match="not JSON"):
        hld.normalize("{order:", kind="pusher:hld.order.status_changed", tz=KOLKATA, ref=TOKEN)


def test_hld_location_event_without_coordinates_is_a_normalization_error() -> None:
    payload = load("pusher_executive_location_updated.json")
    payload["location"] = {"lat": "north"}

    with pytest.raises(NormalizationError, match="no valid location"):
        hld.normalize(payload, kind="pusher:executive.location_updated", tz=KOLKATA, ref=TOKEN)


def test_hld_status_changed_without_any_status_is_a_normalization_error() -> None:
    payload = {"order": {"id": "HLD1"}, "tracking_entry": {"timestamp": "2026-04-04T10:50:00Z"}}

    with pytest.raises(NormalizationError, match="no status"):
        hld.normalize(payload, kind="pusher:hld.order.status_changed", tz=KOLKATA, ref=TOKEN)


def test_hld_unknown_kind_is_refused() -> None:
    with pytest.raises(NormalizationError, match="unknown payload kind"):
        hld.normalize({}, kind="webhook", tz=KOLKATA)


def test_hld_pusher_kinds_go_through_the_provider_registry() -> None:
    [observation] = providers.normalize(
        "hld",
        json.dumps(load("pusher_order_status_changed.json")),
        kind="pusher:hld.order.status_changed",
        tz=KOLKATA,
        ref=TOKEN,
    )

    assert observation.status == Status.OUT_FOR_DELIVERY


def test_hld_parse_body_reads_json_bytes() -> None:
    assert hld.parse_body((FIXTURES / "tracking_invalid_token.json").read_bytes())["success"] is False
