"""Erasing a shipment's personal data: courier names and phones, positions, stop locations.

Statuses, times, references and sequence numbers stay, so the history still tells what
happened and when. Its history stream is rewritten in one atomic script: every entry is
read, the stream deleted, and each entry added again under **its own id** (a stream created
anew accepts any increasing explicit id) with the scrubbed event in place of the original.
So ``seen`` (event id -> entry id), the current status's entry and the outbox stay valid,
and readers resuming from an entry id miss nothing. An event appended between the read and
the rewrite is kept as it is by the script and scrubbed by a second pass.

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
from hub.registry import shipments

PASSES = 2  # the second scrubs what was appended while the first ran

# KEYS: history, shipment hash. ARGV: now (ms), then (entry id, scrubbed event) pairs. Every
# entry is added again under its own id, scrubbed when the caller sent its scrubbed event;
# returns how many were not (appended after the caller read the history).
_REWRITE = """
local history, shipment = KEYS[1], KEYS[2]
local scrubbed = {}
for i = 2, #ARGV, 2 do scrubbed[ARGV[i]] = ARGV[i + 1] end
local entries = redis.call('XRANGE', history, '-', '+')
local ttl = redis.call('PTTL', history)
redis.call('DEL', history)
local missed = 0
for _, entry in ipairs(entries) do
  local fields, text = entry[2], scrubbed[entry[1]]
  if not text then missed = missed + 1 end
  for j = 1, #fields, 2 do
    if text and fields[j] == 'event' then fields[j + 1] = text end
  end
  redis.call('XADD', history, entry[1], unpack(fields))
end
if ttl > 0 then redis.call('PEXPIRE', history, ttl) end
redis.call('HDEL', shipment, 'courier', 'location', 'location_time_ms')
redis.call('HSET', shipment, 'erased_ms', ARGV[1])
return missed
"""


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    """The event without personal data: no courier, no position, no stop location."""
    data = dict(event.get("data") or {})
    data["courier"] = None
    data["location"] = None
    if isinstance(data.get("stop"), dict):
        data["stop"] = {**data["stop"], "location": None}
    return {**event, "data": data}


async def erase(redis: Redis, shipment_id: str, merchant_id: str) -> None:
    """Stop tracking the merchant's shipment and erase its personal data (NotFound: not theirs)."""
    await shipments.stop_tracking(redis, shipment_id, merchant_id)
    rewrite = redis.register_script(_REWRITE)
    history = keys.history(shipment_id)
    done: set[str] = set()
    for _ in range(PASSES):
        args: list[Any] = [int(time.time() * 1000)]
        for entry_id, fields in await redis.xrange(history):
            event = json.loads(fields["event"]) if entry_id not in done else None
            text = fields["event"] if event is None else _dumps(scrub(event))
            args += [entry_id, text]
            done.add(entry_id)
        if not int(await rewrite(keys=[history, keys.shipment(shipment_id)], args=args)):
            break
    await redis.delete(keys.poll_state(shipment_id))


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
