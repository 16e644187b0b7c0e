"""ALOD: base64 wire format, its two tracking shapes, and its errors inside HTTP 200.

The document's JSON examples are not valid JSON; the fixtures are the same payloads made
valid, and the tests base64-encode them where the wire format matters.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.errors import CredentialsRefused, NormalizationError, ProviderError
from hub.model.observation import UNDATED, EventType, ProviderStatus
from hub.model.status import Status
from hub.providers import alod

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alod"
RIYADH = ZoneInfo("Asia/Riyadh")
BOOKING = "625fe47c6b8812713f16c52a"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def wire(name: str) -> bytes:
    """The fixture as ALOD sends it: base64 of the JSON bytes."""
    return base64.b64encode((FIXTURES / name).read_bytes())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def track(payload: Any, ref: str | None = BOOKING) -> list[Any]:
    return alod.normalize(payload, kind="tracking", tz=RIYADH, ref=ref)


def test_alod_base64_body_is_decoded_then_parsed() -> None:
    assert alod.parse_body(wire("tracking_alod.json")) == load("tracking_alod.json")


def test_alod_base64_body_wrapped_over_lines_and_unpadded_is_read() -> None:
    encoded = wire("tracking_ups.json").rstrip(b"=")
    wrapped = b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))

    assert alod.parse_body(wrapped) == load("tracking_ups.json")


def test_alod_plain_json_body_is_accepted_since_brace_is_not_base64() -> None:
    assert alod.parse_body((FIXTURES / "tracking_alod.json").read_bytes()) == load("tracking_alod.json")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not base64 at all!", "body is not valid base64"),
        (base64.b64encode(b"\xff\xfe\x00"), "decoded body is not UTF-8"),
        (base64.b64encode(b"{'status':'success'}"), "decoded body is not JSON"),
        (b"{'status':'success',}", "decoded body is not JSON"),
    ],
)
def test_alod_undecodable_body_names_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(NormalizationError, match=reason):
        alod.parse_body(body)


def test_alod_base64_error_inside_http_200() -> None:
    body = alod.parse_body(wire("error_errors_list.json"))

    with pytest.raises(ProviderError) as caught:
        track(body)

    assert (caught.value.provider, caught.value.code) == ("alod", "PARAM_NAME")
    assert caught.value.message == "PARAM_NAME: ERROR_MESSAGE"


def test_alod_error_list_given_as_message_is_read() -> None:
    with pytest.raises(ProviderError) as caught:
        track(alod.parse_body(wire("error_message_list.json")))

    assert caught.value.code == "booking_detail_0_item_name"
    assert caught.value.message == (
        "booking_detail_0_item_name: Please enter item name.; item_images_0: Please select images."
    )


def test_alod_error_with_a_plain_message_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="Total available booking") as caught:
        track(load("error_message_text.json"))

    assert caught.value.code == "error"


def test_alod_own_shape_example_oldest_first() -> None:
    observations = track(alod.parse_body(wire("tracking_alod.json")))

    assert [(o.status, o.time) for o in observations] == [
        (Status.PENDING, datetime(2022, 4, 14, 8, 17, 57, 654000, tzinfo=UTC)),
        (Status.COURIER_ASSIGNED, datetime(2022, 4, 14, 8, 18, 15, 605000, tzinfo=UTC)),
        (Status.AT_PICKUP, datetime(2022, 4, 14, 8, 34, 58, 989000, tzinfo=UTC)),
        (Status.AT_DROPOFF, datetime(2022, 4, 14, 8, 35, 12, 694000, tzinfo=UTC)),
        (Status.DELIVERED, datetime(2022, 4, 14, 8, 35, 28, 529000, tzinfo=UTC)),
    ]
    assert observations[2].provider_status == ProviderStatus(
        "Arrived to Collect the Shipment", "Arrived to Collect the Shipment"
    )
    assert {o.provider_ref for o in observations} == {BOOKING}
    assert all(
        o.type == EventType.STATUS_CHANGED and o.extra == {"booking_type": "alod"} for o in observations
    )


def test_alod_status_text_is_matched_case_and_space_insensitively() -> None:
    payload = load("tracking_alod.json")
    payload["booking_status_details"][1]["status"] = "  reached   RECEIVER "

    reached = track(payload)[3]

    assert reached.status == Status.AT_DROPOFF
    # One word, one code (the trace's spelling), so a respelt word is not another change; the text is as sent.
    assert reached.provider_status == ProviderStatus("Reached Receiver", "  reached   RECEIVER ")


def test_alod_ups_date_time_fields() -> None:
    observations = track(alod.parse_body(wire("tracking_ups.json")))

    # "20220419" + "155720" is Riyadh local time (UTC+03:00).
    assert [o.time for o in observations] == [at("2022-04-19T12:52:15"), at("2022-04-19T12:57:20")]


def test_alod_ups_shape_keeps_type_and_code_and_maps_by_type() -> None:
    observations = track(load("tracking_ups.json"))

    assert [(o.status, o.provider_status) for o in observations] == [
        (
            Status.PENDING,
            ProviderStatus("M/MP", "Shipper created a label, UPS has not received the packageyet."),
        ),
        (Status.CANCELLED, ProviderStatus("MV/VP", "Shipment Cancelled")),
    ]


def test_alod_ups_booking_status_does_not_override_the_carrier_trace() -> None:
    # The example says booking_status "delivered" beside a cancelled UPS trace: the trace rules.
    observations = track(load("tracking_ups.json"))

    assert Status.DELIVERED not in {o.status for o in observations}
    assert observations[-1].status == Status.CANCELLED


def test_alod_terminal_booking_status_missing_from_the_trace_is_undated_for_the_hub_to_date() -> None:
    payload = load("tracking_alod.json")
    payload["booking_status"] = "timeout"
    payload["booking_status_details"] = payload["booking_status_details"][-1:]

    observations = track(payload)

    assert [(o.status, o.provider_status) for o in observations] == [
        (Status.PENDING, ProviderStatus("Shipment Submitted", "Shipment Submitted")),
        (Status.EXPIRED, ProviderStatus("timeout", "timeout")),
    ]
    # booking_status carries no time: dating it at the trace's latest would put it in the past.
    assert observations[1].time == UNDATED


@pytest.mark.parametrize(("word", "status"), [("timeout", Status.EXPIRED), ("cancelled", Status.CANCELLED)])
def test_alod_terminal_booking_status_with_an_empty_trace_is_kept(word: str, status: Status) -> None:
    # A booking no driver accepted in time has no trace at all: its word is all there is.
    payload = {**load("tracking_alod.json"), "booking_status": word, "booking_status_details": []}

    [observation] = track(payload)

    assert (observation.status, observation.provider_status) == (status, ProviderStatus(word, word))
    assert observation.time == UNDATED and observation.provider_ref == BOOKING


def test_alod_delivered_word_and_delivered_trace_entry_share_one_code() -> None:
    # booking_status says delivered before the trace does; the next answer's trace says "Delivered".
    early = load("tracking_alod.json")
    early["booking_status_details"] = early["booking_status_details"][1:]
    later = load("tracking_alod.json")

    closing = track(early)[-1]
    entry = track(later)[-1]

    assert (closing.status, closing.time) == (Status.DELIVERED, UNDATED)
    assert closing.provider_status == ProviderStatus("Delivered", "delivered")
    assert entry.provider_status == ProviderStatus("Delivered", "Delivered")


def test_alod_unknown_booking_status_word_is_kept_raw_as_unknown() -> None:
    payload = load("tracking_alod.json")
    payload["booking_status"] = "Returned_To_Sender"

    observations = track(payload)

    assert len(observations) == 6
    assert (observations[-1].status, observations[-1].provider_status, observations[-1].time) == (
        Status.UNKNOWN,
        ProviderStatus("Returned_To_Sender", "Returned_To_Sender"),
        UNDATED,
    )


def test_alod_unknown_booking_status_word_the_trace_already_shows_is_not_repeated() -> None:
    payload = load("tracking_alod.json")
    payload["booking_status"] = "Handed to Neighbour"
    payload["booking_status_details"][0]["status"] = "Handed to Neighbour"

    assert [o.status for o in track(payload)][-2:] == [Status.AT_DROPOFF, Status.UNKNOWN]
    assert len(track(payload)) == 5


@pytest.mark.parametrize("word", [None, "", "   ", 7, ["delivered"]])
def test_alod_missing_or_non_text_booking_status_adds_nothing(word: object) -> None:
    payload = {**load("tracking_alod.json"), "booking_status": word}

    assert len(track(payload)) == 5


def test_alod_ups_unknown_booking_status_word_is_left_to_the_carrier_trace() -> None:
    payload = {**load("tracking_ups.json"), "booking_status": "lost"}

    assert [o.status for o in track(payload)] == [Status.PENDING, Status.CANCELLED]


def test_alod_booking_status_already_shown_by_the_trace_is_not_repeated() -> None:
    assert len(track(load("tracking_alod.json"))) == 5


def test_alod_non_terminal_booking_status_adds_nothing() -> None:
    payload = load("tracking_alod.json")
    payload["booking_status"] = "placed"
    payload["booking_status_details"] = payload["booking_status_details"][-2:]

    assert [o.status for o in track(payload)] == [Status.PENDING, Status.COURIER_ASSIGNED]


def test_alod_booking_status_words_map() -> None:
    assert [alod.STATUSES.map(word) for word in ("placed", "timeout", "delivered", "cancelled")] == [
        Status.PENDING,
        Status.EXPIRED,
        Status.DELIVERED,
        Status.CANCELLED,
    ]


@pytest.mark.parametrize("carrier", ["dhl", "shipa", None])
def test_alod_other_carriers_are_read_when_entries_have_a_known_shape(carrier: str | None) -> None:
    ups = load("tracking_ups.json")
    own = load("tracking_alod.json")
    payload = {**ups, "booking_type": carrier, "booking_status_details": [*ups["booking_status_details"]]}
    payload["booking_status_details"].append(own["booking_status_details"][-1])

    observations = track(payload)

    assert [o.provider_status.code for o in observations if o.provider_status] == [
        "Shipment Submitted",
        "M/MP",
        "MV/VP",
    ]


def test_alod_other_carrier_with_unknown_entry_shape_is_a_normalization_error() -> None:
    payload = {"status": "success", "booking_type": "dhl", "booking_status_details": [{"event": "Delivered"}]}

    with pytest.raises(NormalizationError, match=r"booking_status_details\[0\] has neither ALOD's shape"):
        track(payload)


def test_unknown_code_is_kept_not_dropped() -> None:
    payload = load("tracking_ups.json")
    payload["booking_status_details"][0]["status"] = {"type": "ZZ", "code": "Q1", "description": "Held"}
    own = load("tracking_alod.json")
    own["booking_status_details"][0]["status"] = "Handed to Neighbour"

    ups_last = track(payload)[-1]
    own_last = track(own)[4]

    assert (ups_last.status, ups_last.provider_status) == (Status.UNKNOWN, ProviderStatus("ZZ/Q1", "Held"))
    assert (own_last.status, own_last.provider_status) == (
        Status.UNKNOWN,
        ProviderStatus("Handed to Neighbour", "Handed to Neighbour"),
    )


def test_alod_requires_the_booking_id_as_ref() -> None:
    with pytest.raises(NormalizationError, match="booking_id"):
        track(load("tracking_alod.json"), ref=None)


@pytest.mark.parametrize(
    ("fixture", "mutate", "reason"),
    [
        ("tracking_alod.json", lambda p: p.update(status="ok"), "'status' must be 'success' or 'error'"),
        ("tracking_alod.json", lambda p: p.pop("booking_status_details"), "must be a list, got NoneType"),
        (
            "tracking_alod.json",
            lambda p: p["booking_status_details"][2].pop("created"),
            r"booking_status_details\[2\].created is missing",
        ),
        (
            "tracking_alod.json",
            lambda p: p["booking_status_details"][0].update(status={"type": "D"}),
            r"booking_status_details\[0\].status must be ALOD's status text",
        ),
        (
            "tracking_ups.json",
            lambda p: p["booking_status_details"][1].pop("time"),
            r"booking_status_details\[1\] has no 'time'",
        ),
        (
            "tracking_ups.json",
            lambda p: p["booking_status_details"][0].update(date="19/04/2022"),
            "unreadable time",
        ),
        (
            "tracking_ups.json",
            lambda p: p["booking_status_details"][0]["status"].pop("type"),
            r"booking_status_details\[0\].status has no 'type'",
        ),
    ],
)
def test_alod_malformed_tracking_is_a_normalization_error(fixture: str, mutate: Any, reason: str) -> None:
    payload = copy.deepcopy(load(fixture))
    mutate(payload)

    with pytest.raises(NormalizationError, match=reason):
        track(payload)


def test_alod_unknown_kind_is_refused() -> None:
    with pytest.raises(NormalizationError, match="unknown payload kind"):
        alod.normalize({}, kind="webhook", tz=RIYADH, ref=BOOKING)


@pytest.mark.parametrize(
    "errors",
    [
        [{"param": "authkey", "msg": "Invalid access key", "value": "wrong-key"}],
        [{"param": "booking_id", "msg": "Invalid booking id"}, {"param": " AuthKey ", "msg": "Invalid"}],
    ],
    ids=["authkey", "authkey-named-second"],
)
def test_alod_refused_authkey_inside_http_200_refuses_the_account(errors: list[dict[str, str]]) -> None:
    body = alod.parse_body(base64.b64encode(json.dumps({"status": "error", "errors": errors}).encode()))

    with pytest.raises(CredentialsRefused) as caught:
        track(body)

    assert caught.value.code.strip().lower() == "authkey"
    assert "wrong-key" not in str(caught.value), "the refused key's value must not reach logs"


@pytest.mark.parametrize("message", ["Invalid authkey", "AUTH KEY is not valid", "auth_key expired"])
def test_alod_bare_error_message_naming_the_authkey_refuses_the_account(message: str) -> None:
    with pytest.raises(CredentialsRefused):
        track({"status": "error", "message": message})


def test_alod_error_naming_another_param_is_about_the_booking_only() -> None:
    errors = [{"param": "booking_id", "msg": "Invalid booking id", "value": BOOKING}]

    with pytest.raises(ProviderError) as caught:
        track({"status": "error", "errors": errors})

    assert not isinstance(caught.value, CredentialsRefused)
    assert caught.value.code == "booking_id"
