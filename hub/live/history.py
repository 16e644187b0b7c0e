"""What a socket is sent before live events: a snapshot, or exactly what it missed.

The cursor a client keeps is the ``hub:events`` entry id of the last event it saw.
Entries are trimmed from the head of the stream only, so a missed range is complete
exactly when nothing at or after the cursor was ever deleted, which Redis reports as
``max-deleted-entry-id``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from hub import keys
from hub.live import offsets, views
from hub.live.access import Scope
from hub.live.fanout import Published
from hub.registry import shipments
from hub.settings import Settings

PAGE = 500
MERCHANT_SNAPSHOT_SHIPMENTS = 100


@dataclass(frozen=True)
class Snapshot:
    offset: str  # live events after this one follow the snapshot
    body: dict[str, Any]
    event_ids: set[str] = field(default_factory=set)  # already in the snapshot, not to be sent again


async def stream_end(redis: Redis) -> tuple[str, str]:
    """``(last id, oldest id after which nothing was removed)`` of ``hub:events``.

    Trimming removes entries before the first one; ``XDEL`` records its largest id.
    """
    try:
        info = await redis.xinfo_stream(keys.EVENTS)
    except ResponseError:  # no such key: nothing was ever appended
        return offsets.ZERO, offsets.ZERO
    last = str(info.get("last-generated-id", offsets.ZERO))
    intact_after = str(info.get("max-deleted-entry-id", offsets.ZERO))
    first = info.get("first-entry")
    if int(info.get("entries-added", 0)) > int(info.get("length", 0)):
        # Trimmed: all before the first entry is gone; all of it when trimming emptied the stream.
        before_first = _previous(str(first[0])) if first else last
        if offsets.after(before_first, intact_after):
            intact_after = before_first
    return last, intact_after


def _previous(offset: str) -> str:
    ms, seq = offsets.key(offset)
    return f"{ms}-{seq - 1}" if seq else f"{ms - 1}-{2**64 - 1}"


async def snapshot(redis: Redis, settings: Settings, scope: Scope) -> Snapshot:
    offset, _ = await stream_end(redis)
    if scope.shipment is not None:
        shipment = await shipments.get(redis, scope.shipment.id)
        history = await shipments.history(redis, shipment.id, count=settings.live.history_count)
        body = {
            "shipment": views.public_shipment(shipment, settings.live.show_phones),
            "history": [views.public_event(e, settings.live.show_phones) for e in history],
        }
        return Snapshot(offset, body, {e["id"] for e in history})
    found, _ = await shipments.page(redis, scope.merchant_id, limit=MERCHANT_SNAPSHOT_SHIPMENTS)
    return Snapshot(offset, {"shipments": [views.merchant_shipment(s) for s in found]})


async def missed(
    redis: Redis, settings: Settings, scope: Scope, since: str
) -> tuple[list[Published], str] | None:
    """The scope's entries after ``since`` and the last offset read; ``None`` when some are gone
    or more than ``HUB_LIVE_RECOVER_MAX`` stream entries follow ``since`` (a snapshot is then cheaper).

    The limit counts entries, not pages: a page never reads more than one entry past it.
    """
    last, intact_after = await stream_end(redis)
    if offsets.after(intact_after, since):
        return None
    found: list[Published] = []
    cursor, scanned, limit = since, 0, max(0, settings.live.recover_max)
    while offsets.after(last, cursor):
        count = min(PAGE, limit - scanned + 1)  # one more than allowed tells "too far behind"
        page = await redis.xrange(keys.EVENTS, f"({cursor}", "+", count=count)
        if not page:
            break
        for entry_id, fields in page:
            cursor = entry_id
            scanned += 1
            if scanned > limit:
                return None
            if scope.shipment is not None and fields.get("shipment") != scope.shipment.id:
                continue
            entry = Published(entry_id, json.loads(fields["event"]))
            if entry.merchant_id == scope.merchant_id:
                found.append(entry)
    return found, cursor
