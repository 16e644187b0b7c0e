"""Stream entry ids (``<ms>-<seq>``) used as the live cursor, compared as numbers."""

from __future__ import annotations

import re

# ASCII digits only (\d takes any script's) and \Z ("$" lets a trailing newline through): Redis takes it.
_OFFSET = re.compile(r"\A[0-9]{1,20}-[0-9]{1,20}\Z")
_MAX_PART = 2**64 - 1  # each half of a stream id is an unsigned 64-bit number
ZERO = "0-0"


def valid(offset: object) -> bool:
    return isinstance(offset, str) and bool(_OFFSET.match(offset)) and max(key(offset)) <= _MAX_PART


def key(offset: str) -> tuple[int, int]:
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq)


def after(offset: str, floor: str) -> bool:
    return key(offset) > key(floor)
