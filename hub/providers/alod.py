"""Placeholder: the alod normalizer is being written."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from hub.errors import NormalizationError
from hub.observations import Observation
from hub.providers._common import parse_json
from hub.statuses import StatusTable

NAME = "alod"
KINDS = ("tracking",)
STATUSES = StatusTable(NAME, {})


def parse_body(body: bytes) -> Any:
    return parse_json(NAME, body)


def normalize(payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
    raise NormalizationError(NAME, "not implemented yet")
