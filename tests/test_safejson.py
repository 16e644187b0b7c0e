"""The guarded reader: any bytes give a value or a typed refusal, and what it returns is safe to store."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.model import safejson
from hub.model.safejson import Limits, Refusal
from hub.settings import Settings

LIMITS = Limits(max_bytes=64 * 1024, max_depth=16, max_number_digits=40)
QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text with lone surrogates among ordinary characters (hypothesis leaves surrogates out by default).
HOSTILE_TEXT = st.text(st.characters(categories=["Cs", "L", "N", "P", "Zs", "Cc"]), max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(),  # NaN and infinities too: json.dumps writes them, the reader refuses them
    HOSTILE_TEXT,
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=20,
)


def nest(value: Any, depth: int) -> Any:
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


def depth_of(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def stored_safely(value: Any) -> None:
    """What the hub does with a parsed body later: encode it as UTF-8 JSON (this is what died in issue 12)."""
    json.dumps(value, ensure_ascii=False).encode("utf-8")


@QUICK
@given(st.binary(max_size=2048))
def test_any_bytes_give_a_value_or_a_typed_refusal(data: bytes) -> None:
    try:
        value = safejson.loads(data, LIMITS, expect=None)
    except Refusal as refused:
        assert 400 <= refused.status < 500 and refused.code in safejson.STATUS
        return
    stored_safely(value)
    assert depth_of(value) <= LIMITS.max_depth


@QUICK
@given(JSON_LIKE, st.integers(min_value=0, max_value=40))
def test_any_json_like_value_is_read_back_or_refused_for_its_reason(value: Any, depth: int) -> None:
    text = json.dumps(nest(value, depth))  # ensure_ascii: a lone surrogate goes out as a \udXXX escape
    try:
        read = safejson.loads(text.encode(), LIMITS, expect=None)
    except Refusal as refused:
        assert refused.code in {"too_deep", "number_too_long", "lone_surrogate", "invalid_json"}, refused
        return
    assert read == json.loads(text)
    stored_safely(read)


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"[" * 60_000, "too_deep", 422),
        (b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "too_deep", 422),
        (b'{"n": ' + b"1" * 5_000 + b"}", "number_too_long", 422),
        (b'{"n": -0.' + b"1" * 500 + b"}", "number_too_long", 422),
        (b'{"n": 1e400}', "number_too_long", 422),
        (b'{"n": NaN}', "invalid_json", 400),
        (b'{"n": -Infinity}', "invalid_json", 400),
        (b'{"s": "\\ud800"}', "lone_surrogate", 400),
        (b'{"\\udfff": 1}', "lone_surrogate", 400),
        (b'["ok", ["\\uDBFF"]]', "lone_surrogate", 400),
        (b"\xed\xa0\x80", "invalid_utf8", 400),  # a surrogate encoded as UTF-8 bytes is not UTF-8
        (b'{"s": "\xc3"}', "invalid_utf8", 400),
        (b"[1, 2]", "wrong_type", 422),
        (b'"text"', "wrong_type", 422),
        (b"x" * (64 * 1024 + 1), "payload_too_large", 413),
    ],
)
def test_each_refusal_has_its_code_and_status(data: bytes, code: str, status: int) -> None:
    with pytest.raises(Refusal) as refused:
        safejson.loads(data, LIMITS)
    assert (refused.value.code, refused.value.status) == (code, status)


def test_what_is_not_a_reason_to_refuse() -> None:
    assert safejson.loads(b'{"s": "\\ud83d\\ude00", "t": "\\\\ud800"}', LIMITS) == {"s": "😀", "t": "\\ud800"}
    brackets = "[" * 32 + "{" * 6  # inside a string: not nesting
    assert safejson.loads(json.dumps({"s": brackets}).encode(), LIMITS) == {"s": brackets}
    assert safejson.loads(json.dumps(nest(1, 16)).encode(), LIMITS, expect=None) == nest(1, 16)
    assert safejson.loads(b'{"n": 1' + b"0" * 39 + b"}", LIMITS) == {"n": 10**39}
    assert safejson.loads('{"text": "از"}', LIMITS) == {"text": "از"}


def test_a_text_frame_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(Refusal) as refused:
        safejson.loads('{"s": "\ud800"}', LIMITS)
    assert refused.value.code == "lone_surrogate"


def test_the_limits_are_settings() -> None:
    configured = Settings.from_env({"HUB_MAX_JSON_DEPTH": "3", "HUB_MAX_JSON_NUMBER_DIGITS": "5"})
    limits = Limits.of(configured)
    assert (limits.max_depth, limits.max_number_digits, limits.max_bytes) == (3, 5, configured.max_body_bytes)
    with pytest.raises(Refusal, match="nested 4 deep"):
        safejson.loads(b'{"a": [[[1]]]}', limits)
    with pytest.raises(Refusal, match="6 digits"):
        safejson.loads(b'{"a": 123456}', limits)


def test_the_checks_are_linear_a_hostile_megabyte_takes_milliseconds() -> None:
    body = b'{"a": [' + b'{"b": "[[[[\\"", "c": 1.5},' * 30_000 + b"1]}"
    started = time.perf_counter()
    safejson.loads(body, Limits(max_bytes=0))
    with pytest.raises(Refusal):
        safejson.loads(b"[" * 1_000_000, Limits(max_bytes=0))
    assert time.perf_counter() - started < 2.0  # a loaded 2-core box; typically ~50 ms
