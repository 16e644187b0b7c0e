"""The fan-out's JSON: orjson on the per-event path, the standard library where orjson refuses.

Every event is parsed once per process and rendered once per view; measured with
``bench/fanout.py`` the standard library's ``loads`` and ``dumps`` were the largest Python
items per event after the system calls. orjson refuses what the standard library accepts
(lone surrogates, NaN) and reads integers past 64 bits as floats, so those values go to the
standard library and nothing an entry may hold is lost.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A number of 19 digits or more may be an integer past 64 bits (orjson would read it as a float);
# a number starts after ``:``, ``[`` or ``,`` (a long digit run inside a string, e.g. an id, does not count).
_LONG_DIGITS = re.compile(r"[:\[,]\s*-?\d{19}")


def loads(text: str) -> Any:
    if _LONG_DIGITS.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text (no spaces after separators)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: a big integer, a lone surrogate, a non-str key
        return json.dumps(value, separators=(",", ":"))
