"""Erasing a shipment's personal data: courier names and phones, positions, stop locations.

Statuses, times, references and sequence numbers stay, so the history still tells what
happened and when. Its history stream is rewritten in one atomic script: every entry is
read, the stream deleted, and each entry added again under **its own id** (a stream created
anew accepts any increasing explicit id) with the scrubbed event in place of the original.
So ``seen`` (event id -> entry id), the current status's entry and the outbox stay valid,
and readers resuming from an entry id miss nothing. The script refuses (and the caller
reads again) when an event was appended between the read and the rewrite.

What is not rewritten: ``hub:events`` and the merchant streams (shared, append-only: their
entries age out by their trimming), webhook deliveries (kept ``HUB_WEBHOOK_RETENTION_S``).
docs/retention.md says what each keeps for how long.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import Conflict
from hub.registry import shipments

ATTEMPTS = 5  # rewrites tried while events keep arriving

# KEYS: history, shipment hash. ARGV: the last entry id read ('' for none), now (ms),
# then the scrubbed event of every entry, in order. Returns the entries rewritten, or -1.
_REWRITE = """
local history, shipment = KEYS[1], KEYS[2]
local entries = redis.call('XRANGE', history, '-', '+')
local last = ''
if #entries > 0 then last = entries[#entries][1] end
if last ~= ARGV[1] or #entries ~= #ARGV - 2 then return -1 end
local ttl = redis.call('PTTL', history)
redis.call('DEL', history)
for i, entry in ipairs(entries) do
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'event' then fields[j + 1] = ARGV[i + 2] end
  end
  redis.call('XADD', history, entry[1], unpack(fields))
end
if ttl > 0 then redis.call('PEXPIRE', history, ttl) end
redis.call('HDEL', shipment, 'courier', 'location', 'location_time_ms')
redis.call('HSET', shipment, 'erased_ms', ARGV[2])
return #entries
"""


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    """The event without personal data: no courier, no position, no stop location."""
    data = dict(event.get("data") or {})
    data["courier"] = None
    data["location"] = None
    if isinstance(data.get("stop"), dict):
        data["stop"] = {**data["stop"], "location": None}
    return {**event, "data": data}


async def erase(redis: Redis, shipment_id: str, merchant_id: str) -> int:
    """Stop tracking the merchant's shipment and erase its personal data; returns the events scrubbed."""
    await shipments.stop_tracking(redis, shipment_id, merchant_id)  # NotFound for another merchant's
    rewrite = redis.register_script(_REWRITE)
    history = keys.history(shipment_id)
    for _ in range(ATTEMPTS):
        entries = await redis.xrange(history)
        texts = [
            json.dumps(scrub(json.loads(fields["event"])), separators=(",", ":"), ensure_ascii=False)
            for _, fields in entries
        ]
        last = entries[-1][0] if entries else ""
        now_ms = int(time.time() * 1000)
        done = int(await rewrite(keys=[history, keys.shipment(shipment_id)], args=[last, now_ms, *texts]))
        if done >= 0:
            await redis.delete(keys.poll_state(shipment_id))
            return done
    raise Conflict(f"shipment {shipment_id} kept receiving events while being erased; try again")
