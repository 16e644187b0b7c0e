"""Alopeyk normalizer, pinned with the document's own example payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.errors import CredentialsRefused, NormalizationError, ProviderError
from hub.model.observation import UNDATED, EventType
from hub.model.status import Status
from hub.model.times import zone
from hub.providers import alopeyk

FIXTURES = Path(__file__).parent / "fixtures" / "alopeyk"
TEHRAN = zone("Asia/Tehran")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_webhook_example_wrapped_in_order_key() -> None:
    observations = alopeyk.normalize(load("webhook_accepted.json"), kind="webhook", tz=TEHRAN)
    statuses = [
        (o.provider_status.code, o.status, o.time) for o in observations if o.type == EventType.STATUS_CHANGED
    ]
    # +04:30 offsets (Tehran summer time in 2017) become UTC instants.
    assert statuses == [
        ("new", Status.PENDING, datetime(2017, 9, 12, 14, 15, 39, tzinfo=UTC)),
        ("searching", Status.SEARCHING_COURIER, datetime(2017, 9, 12, 14, 15, 39, tzinfo=UTC)),
        ("accepted", Status.COURIER_ASSIGNED, datetime(2017, 9, 12, 14, 19, 34, tzinfo=UTC)),
    ]
    assert {o.provider_ref for o in observations} == {"263197"}
    assert observations[0].refs == {
        "order_token": "be5c4b781263197g86cc78fa6b1a2fg2526b18ac75a",
        "invoice_number": "4NTNKF",
    }


def test_webhook_order_at_top_level_is_accepted_too() -> None:
    bare = load("webhook_accepted.json")["order"]
    wrapped = alopeyk.normalize(load("webhook_accepted.json"), kind="webhook", tz=TEHRAN)
    assert alopeyk.normalize(bare, kind="webhook", tz=TEHRAN) == wrapped


def test_extra_params_are_echoed_as_merchant_ref() -> None:
    observations = alopeyk.normalize(load("webhook_accepted.json"), kind="webhook", tz=TEHRAN)
    assert {o.merchant_ref for o in observations} == {"SHOP-3333"}


def test_webhook_courier_position_without_time_takes_order_update_time() -> None:
    observations = alopeyk.normalize(load("webhook_accepted.json"), kind="webhook", tz=TEHRAN)
    [position] = [o for o in observations if o.type == EventType.LOCATION_UPDATED]
    assert (position.location.lat, position.location.lng) == (35.754098, 51.415349)
    assert position.time == datetime(2017, 9, 12, 14, 19, 34, tzinfo=UTC)
    assert position.courier is not None and position.courier.phone == "01234567891"


def test_naive_last_position_time_takes_the_offset_of_the_payload() -> None:
    """last_position_minimal.updated_at is naive local time; the order's other times carry +03:30."""
    observations = alopeyk.normalize(load("order_picking.json"), kind="order", tz=zone("UTC"))
    [position] = [o for o in observations if o.type == EventType.LOCATION_UPDATED]
    assert position.time == datetime(2018, 10, 24, 10, 52, 2, tzinfo=UTC)  # 14:22:02 at +03:30


def test_order_details_give_status_history_stops_and_eta() -> None:
    observations = alopeyk.normalize(load("order_picking.json"), kind="order", tz=TEHRAN)
    statuses = [o.provider_status.code for o in observations if o.type == EventType.STATUS_CHANGED]
    assert statuses == ["new", "searching", "accepted", "picking"]
    [stop] = [o for o in observations if o.type == EventType.STOP_UPDATED]
    assert (stop.stop.index, stop.stop.kind, stop.stop.status) == (0, "origin", "arrived")
    assert stop.time == datetime(2018, 10, 24, 10, 52, 7, tzinfo=UTC)
    # eta_minimal: 154 s after 14:21:49 local (+03:30)
    assert observations[-1].eta == datetime(2018, 10, 24, 10, 54, 23, tzinfo=UTC)


def test_multi_drop_order_reports_each_stop_arrival_and_handover() -> None:
    order = load("order_picking.json")["object"]
    order["status"] = "delivering"
    order["delivering_at"] = "2018-10-24T14:25:00+03:30"
    order["addresses"][0].update(status="handled", handled_at="2018-10-24T14:25:00+03:30")
    order["addresses"][1].update(
        status="handled", arrived_at="2018-10-24T14:40:00+03:30", handled_at="2018-10-24T14:42:00+03:30"
    )
    order["addresses"][2].update(status="arrived", arrived_at="2018-10-24T15:10:00+03:30")
    stops = [
        (o.stop.index, o.stop.status)
        for o in alopeyk.normalize({"status": "success", "object": order}, kind="order", tz=TEHRAN)
        if o.type == EventType.STOP_UPDATED
    ]
    assert stops == [(0, "arrived"), (0, "handled"), (1, "arrived"), (1, "handled"), (2, "arrived")]


def test_cancelled_order_takes_stopped_at() -> None:
    order = load("webhook_accepted.json")["order"] | {
        "status": "cancelled",
        "stopped_at": "2017-09-12T18:55:00+04:30",
    }
    last = alopeyk.normalize(order, kind="webhook", tz=TEHRAN)
    cancelled = [o for o in last if o.type == EventType.STATUS_CHANGED and o.status == Status.CANCELLED]
    assert [o.time for o in cancelled] == [datetime(2017, 9, 12, 14, 25, tzinfo=UTC)]


def test_unknown_status_word_is_kept_as_unknown() -> None:
    order = load("webhook_accepted.json")["order"] | {"status": "teleported"}
    *_, last = (
        o for o in alopeyk.normalize(order, kind="webhook", tz=TEHRAN) if o.type == EventType.STATUS_CHANGED
    )
    assert last.status == Status.UNKNOWN
    assert last.provider_status.code == "teleported"


def test_error_constant_inside_http_200_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as error:
        alopeyk.normalize(
            {"status": "fail", "message": "ORDER_NOT_FOUND_ERROR", "object": None}, kind="order", tz=TEHRAN
        )
    assert error.value.code == "ORDER_NOT_FOUND_ERROR"
    assert not isinstance(error.value, CredentialsRefused), "one missing order says nothing of the token"


def test_forbidden_constant_inside_http_200_refuses_the_account() -> None:
    # The document's 403 ("You do not have enough permissions") sent as a constant in a 200.
    with pytest.raises(CredentialsRefused) as error:
        alopeyk.normalize(
            {"status": "fail", "message": "FORBIDDEN_ERROR", "object": {}}, kind="order", tz=TEHRAN
        )
    assert error.value.code == "FORBIDDEN_ERROR"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"hello": "world"}, "not an Alopeyk order"),
        ({"order": {"id": 5}}, "has no 'status'"),
        ([1, 2], "must be a JSON object"),
        ({"order": {"id": 5, "status": "accepted", "accepted_at": "yesterday-ish"}}, "unreadable time"),
    ],
)
def test_payloads_that_are_not_orders_are_refused_precisely(payload: Any, reason: str) -> None:
    with pytest.raises(NormalizationError, match=reason):
        alopeyk.normalize(payload, kind="webhook", tz=TEHRAN)


def test_document_example_with_unquoted_order_token_is_not_json() -> None:
    """The document's webhook example has an unquoted order_token: the receiver must refuse it, not guess."""
    raw = (
        (FIXTURES / "webhook_accepted.json")
        .read_text()
        .replace(
            '"be5c4b781263197g86cc78fa6b1a2fg2526b18ac75a"', "be5c4b781263197g86cc78fa6b1a2fg2526b18ac75a"
        )
    )
    with pytest.raises(NormalizationError, match="not valid JSON"):
        alopeyk.parse_body(raw.encode())


@pytest.mark.parametrize(("word", "status"), [("expired", Status.EXPIRED), ("teleported", Status.UNKNOWN)])
def test_a_current_status_with_no_time_at_all_is_kept_for_the_hub_to_date(word: str, status: Status) -> None:
    order = {"id": 14756, "status": word, "created_at": "2017-09-12T18:40:00+04:30"}

    observations = [
        o for o in alopeyk.normalize(order, kind="webhook", tz=TEHRAN) if o.type == EventType.STATUS_CHANGED
    ]

    assert [(o.status, o.time) for o in observations] == [
        (Status.PENDING, datetime(2017, 9, 12, 14, 10, tzinfo=UTC)),
        (status, UNDATED),
    ]
