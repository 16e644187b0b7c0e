"""The one guarded JSON reader for every body and frame the hub is sent.

``json.loads`` alone lets hostile input through or blows up: nesting 20,000 deep raises
``RecursionError``, a 5,000-digit integer raises ``ValueError`` (Python's int max-str-digits),
``"\\ud800"`` yields a string no encoder accepts (it kills whatever writes it later), and
``NaN``/``Infinity`` are not JSON at all. :func:`loads` checks size, UTF-8 and nesting depth
with linear scans *before* parsing (nothing recurses on the input), each number's length in
json's own hooks before it is converted, then lone surrogates and the top-level type; each
refusal is a :class:`Refusal` carrying a machine-readable code and the HTTP status it maps to
(docs/api-errors.md). On a typical 5 KB webhook it costs ~15 µs over ``json.loads``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.settings import Settings

# Refusal codes, one per reason.
TOO_LARGE = "payload_too_large"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
TOO_DEEP = "too_deep"
NUMBER_TOO_LONG = "number_too_long"
LONE_SURROGATE = "lone_surrogate"
WRONG_TYPE = "wrong_type"

STATUS = {
    TOO_LARGE: 413,
    INVALID_UTF8: 400,
    INVALID_JSON: 400,
    LONE_SURROGATE: 400,
    TOO_DEEP: 422,
    NUMBER_TOO_LONG: 422,
    WRONG_TYPE: 422,
}

# A JSON string, unrolled so that matching is linear (no nested quantifiers that can backtrack).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A \u escape of a surrogate; a paired one (\ud83d\ude00) is fine, so a hit is only a reason to look.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class _Unreadable(ValueError):
    """Raised from json's hooks: a number or constant that is not acceptable JSON."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Refusal(HubError):
    """Input the hub will not parse; ``code`` says why and ``status`` is its HTTP status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS[code]


@dataclass(frozen=True)
class Limits:
    """``max_bytes`` 0 means no size limit (the bytes were capped where they came in)."""

    max_bytes: int = 256 * 1024
    max_depth: int = 64  # Settings.max_json_depth
    max_number_digits: int = 100  # Settings.max_json_number_digits

    @classmethod
    def of(cls, settings: Settings, max_bytes: int | None = None) -> Limits:
        """The configured limits; ``max_bytes`` defaults to ``HUB_MAX_BODY_BYTES``."""
        return cls(
            max_bytes=settings.max_body_bytes if max_bytes is None else max_bytes,
            max_depth=settings.max_json_depth,
            max_number_digits=settings.max_json_number_digits,
        )


# Provider bytes (inbox entries, poll responses, Pusher messages) were size-capped where they came in.
PROVIDER_LIMITS = Limits(max_bytes=0)


def loads(data: bytes | str, limits: Limits, expect: type[Any] | None = dict) -> Any:
    """``data`` parsed as JSON, or :class:`Refusal`; ``expect`` is the required top-level type.

    ``max_bytes`` counts characters when ``data`` is text (a WebSocket frame).
    """
    if limits.max_bytes and len(data) > limits.max_bytes:
        unit = "byte" if isinstance(data, bytes) else "character"
        raise Refusal(TOO_LARGE, f"input is over the {limits.max_bytes}-{unit} limit")
    text = _text(data)
    _check_depth(text, limits.max_depth)
    try:
        if text.startswith("\ufeff"):  # as json.loads says it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _decoder(limits.max_number_digits).decode(text)
    except json.JSONDecodeError as exc:
        raise Refusal(INVALID_JSON, f"not valid JSON: {exc}") from None
    except _Unreadable as exc:
        raise Refusal(exc.code, str(exc)) from None
    except (ValueError, RecursionError) as exc:  # defence in depth: the scans above should have caught it
        raise Refusal(INVALID_JSON, f"not valid JSON ({type(exc).__name__})") from None
    if _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(value):
        raise Refusal(LONE_SURROGATE, r"JSON has a lone surrogate escape (like \ud800); text must be Unicode")
    if expect is not None and not isinstance(value, expect):
        raise Refusal(WRONG_TYPE, f"JSON must be {_article(expect)}, got {_json_type(value)}")
    return value


def _check_depth(text: str, max_depth: int) -> None:
    """Nesting outside strings. The exact scan runs only when counting every bracket (strings
    included, a few microseconds) says the limit might be passed: most bodies never pay for it."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = _depth(_STRING.sub('""', text))  # what is outside strings: brackets, numbers, literals
    if depth > max_depth:
        raise Refusal(TOO_DEEP, f"JSON is nested {depth} deep; at most {max_depth} is accepted")


@functools.lru_cache(maxsize=8)
def _decoder(max_digits: int) -> json.JSONDecoder:
    """One per limit, kept: ``json.loads`` with hooks builds a decoder (and its scanner) per call,
    which was 2.5% of a receiver's CPU (py-spy on bench/ingest.py)."""
    parse_int, parse_float = _number_parsers(max_digits)
    return json.JSONDecoder(parse_constant=_no_constant, parse_int=parse_int, parse_float=parse_float)


@functools.lru_cache(maxsize=8)
def _number_parsers(max_digits: int) -> tuple[Callable[[str], int], Callable[[str], float]]:
    """json's hooks get each number's text before any conversion: its length is checked first, so a
    5,000-digit integer never reaches ``int`` (quadratic, and refused past Python's 4,300 digits)."""

    def check(text: str) -> None:
        if len(text) <= max_digits:  # the common case: no digit counting at all
            return
        digits = sum(ch.isdigit() for ch in text)
        if digits > max_digits:
            raise _Unreadable(
                NUMBER_TOO_LONG, f"a number has {digits} digits; at most {max_digits} are accepted"
            )

    def parse_int(text: str) -> int:
        check(text)
        return int(text)

    def parse_float(text: str) -> float:
        check(text)
        number = float(text)
        if not math.isfinite(number):
            raise _Unreadable(NUMBER_TOO_LONG, f"number {text[:20]} is out of range")
        return number

    return parse_int, parse_float


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (keys included) cannot be encoded as UTF-8; no recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        if not _encodable(data):
            raise Refusal(LONE_SURROGATE, "text has a lone surrogate; it must be Unicode")
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(INVALID_UTF8, f"input is not UTF-8 (byte {exc.start}: {exc.reason})") from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _depth(skeleton: str) -> int:
    """The deepest bracket nesting, by a running sum in C over the brackets alone."""
    brackets = _NOT_BRACKETS.sub("", skeleton)
    if not brackets:
        return 0
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))


def _no_constant(name: str) -> Any:
    raise _Unreadable(INVALID_JSON, f"not valid JSON: {name} is not a JSON value")


_TYPE_NAMES: dict[type[Any], str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a number")


def _article(expect: type[Any]) -> str:
    return _TYPE_NAMES.get(expect, expect.__name__)
