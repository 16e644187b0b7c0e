"""Replay: an endpoint asks for every matching event since a time, not only its failed deliveries.

The events come from ``hub:events`` (so no further back than it keeps: ``HUB_STREAM_MAXLEN`` or
``HUB_STREAM_MAX_AGE_S``), read in stream order, which is each shipment's sequence order.
Each becomes a delivery through the queue's own create script; a delivery's id is derived
from the endpoint and the event (:func:`hub.webhooks.delivery.delivery_id`), so an event the
endpoint already has a delivery for (sent, waiting, or failed) is never created twice: a
replay repeated, or overlapping the live feed, sends nothing again. A call reads at most
``max_entries`` stream entries and returns a cursor to go on from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ResponseError

from hub import keys
from hub.model.times import rfc3339
from hub.webhooks.endpoints import Endpoint
from hub.webhooks.matching import matches
from hub.webhooks.outgoing import Outgoing
from hub.webhooks.queue import Deliveries

BATCH = 500  # stream entries read per round trip
MAX_ENTRIES = 20_000  # stream entries one call reads before it answers with a cursor


@dataclass(frozen=True)
class Replayed:
    matched: int  # events of the endpoint's merchant and subscription in the range
    created: int  # deliveries created for them (the rest the endpoint already had)
    next_cursor: str | None  # pass as ``cursor`` to go on; None: the range is done
    oldest_kept_ms: int | None  # the oldest event hub:events still holds (None: it is empty)
    trimmed: bool  # hub:events ever lost entries (trimmed by length or age)

    def to_json(self, since_ms: int) -> dict[str, Any]:
        oldest = self.oldest_kept_ms
        kept = rfc3339(datetime.fromtimestamp(oldest / 1000, UTC)) if oldest is not None else None
        return {
            "matched": self.matched,
            "created": self.created,
            "already_had": self.matched - self.created,
            "next_cursor": self.next_cursor,
            "oldest_kept": kept,
            # Events of the range were trimmed from hub:events: they cannot be replayed.
            "truncated": self.trimmed and (oldest is None or since_ms < oldest),
        }


async def replay(
    redis: Any,
    deliveries: Deliveries,
    endpoint: Endpoint,
    since_ms: int,
    until_ms: int,
    cursor: str | None = None,
    max_entries: int = MAX_ENTRIES,
) -> Replayed:
    """Create the endpoint's deliveries for the events recorded in ``[since_ms, until_ms]``."""
    oldest_ms, trimmed = await _kept(redis)
    start, end = f"({cursor}" if cursor else f"{since_ms}-0", str(until_ms)
    matched = created = scanned = 0
    while scanned < max_entries:
        entries = await redis.xrange(keys.EVENTS, start, end, count=min(BATCH, max_entries - scanned))
        if not entries:
            return Replayed(matched, created, None, oldest_ms, trimmed)
        scanned += len(entries)
        wanted = [
            (endpoint.id, endpoint.merchant_id, event)
            for _, fields in entries
            if (event := _event(fields)) is not None
            # The endpoint's own rules, but for its creation time: a replay is the back-fill.
            and matches(endpoint, event, endpoint.created_ms)
        ]
        matched += len(wanted)
        created += await deliveries.create_many(wanted) if wanted else 0
        start = f"({entries[-1][0]}"
    return Replayed(matched, created, start[1:], oldest_ms, trimmed)


async def _kept(redis: Any) -> tuple[int | None, bool]:
    """The oldest entry hub:events holds, and whether it ever lost any (XINFO STREAM, Redis 7)."""
    try:
        info = await redis.xinfo_stream(keys.EVENTS)
    except ResponseError:  # no such key: nothing was ever published
        return None, False
    first = info.get("first-entry")
    oldest_ms = int(str(_text(first[0])).split("-")[0]) if first else None
    return oldest_ms, int(info.get("entries-added") or 0) > int(info.get("length") or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(fields: dict[str, str]) -> Outgoing | None:
    """The entry's event as the webhooks handle it (None for an entry that holds none)."""
    try:
        return Outgoing.from_entry(fields)
    except (KeyError, ValueError, TypeError):
        return None
