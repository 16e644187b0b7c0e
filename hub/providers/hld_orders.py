"""HLD's order list (``GET /api/v1/web-client/orders?per_page=&page=``), read for bulk reconciliation.

One page answers for many orders: ``data`` rows with the order ``id`` (``HLD2026040412345``),
``status`` as a word ("Delivered") and ``created_at`` as ``"04 Apr, 2026 10:30 am"`` in
HLD's zone; ``meta`` says which page this is and how many there are. Pure: bytes in, rows out.

A row dates only the order's creation, never its current status, so it is not an event:
the reconciler (``workers/reconcile.py``) compares its status with the shipment's and asks
HLD's tracking (which dates every status) only about the orders whose status differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from hub.errors import NormalizationError, ProviderError
from hub.providers._common import mapping, parse_json, time
from hub.providers.hld import NAME, code_for_text


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    status_text: str
    code: str | None  # from the same table as the codes; None for a word it does not know
    created_at: datetime  # aware UTC


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    page: int
    last_page: int


def parse(body: bytes, tz: tzinfo) -> OrderPage:
    """One page of the order list; raises :class:`NormalizationError` on anything else."""
    payload = mapping(NAME, parse_json(NAME, body), "HLD order list")
    if payload.get("success") is False:
        raise ProviderError(
            NAME, str(payload.get("error_code") or "ERROR"), str(payload.get("message") or "")
        )
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise NormalizationError(NAME, f"order list 'data' must be a list, got {type(rows).__name__}")
    meta = mapping(NAME, payload.get("meta"), "order list 'meta'")
    page, last_page = _page_number(meta, "current_page"), _page_number(meta, "last_page")
    return OrderPage([_row(row, index, tz) for index, row in enumerate(rows)], page, max(page, last_page))


def _row(row: Any, index: int, tz: tzinfo) -> OrderRow:
    what = f"data[{index}]"
    entry: Mapping[str, Any] = mapping(NAME, row, what)
    order_id, text = entry.get("id"), entry.get("status")
    if not isinstance(order_id, str | int) or isinstance(order_id, bool) or not 0 < len(str(order_id)) <= 100:
        raise NormalizationError(NAME, f"{what}.id must be the HLD order id, got {str(order_id)[:100]!r}")
    if not isinstance(text, str):
        raise NormalizationError(NAME, f"{what}.status must be a word such as 'Delivered', got {text!r}")
    created_at = time(NAME, entry.get("created_at"), tz, f"{what}.created_at")
    return OrderRow(str(order_id), text, code_for_text(text), created_at)


def _page_number(meta: Mapping[str, Any], field: str) -> int:
    value = meta.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise NormalizationError(NAME, f"order list meta.{field} must be a page number, got {value!r}")
    return value
