"""Stream entry ids (``<ms>-<seq>``) used as the live cursor, compared as numbers."""

from __future__ import annotations

import re

_OFFSET = re.compile(r"^\d{1,20}-\d{1,20}$")
ZERO = "0-0"


def valid(offset: object) -> bool:
    return isinstance(offset, str) and bool(_OFFSET.match(offset))


def key(offset: str) -> tuple[int, int]:
    ms, _, seq = offset.partition("-")
    return int(ms), int(seq)


def after(offset: str, floor: str) -> bool:
    return key(offset) > key(floor)
