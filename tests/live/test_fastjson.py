"""The fan-out's JSON (orjson with the standard library behind it) loses nothing an entry may hold."""

from __future__ import annotations

import json

import pytest

from hub.live import fastjson

HOSTILE = [
    {"n": 123456789012345678901234567890, "m": -(2**70)},  # past 64 bits: orjson would read floats
    {"s": "\ud800 lone surrogate"},
    {"x": 0.1234567890123456789},
    {"deep": [[[[["ok"]]]]], "u": "é 🚚"},
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_survives_the_round_trip_exactly(value: object) -> None:
    text = json.dumps(value)
    assert fastjson.loads(text) == json.loads(text)
    assert json.loads(fastjson.dumps(value)) == value


def test_rendering_is_compact_json() -> None:
    assert fastjson.dumps({"type": "event", "n": [1, 2]}) == '{"type":"event","n":[1,2]}'
