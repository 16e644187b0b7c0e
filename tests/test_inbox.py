"""The inbox: every accepted payload is kept exactly once, however many arrive together."""

from __future__ import annotations

import asyncio
import json

from redis.asyncio import Redis

from hub import keys
from hub.ingest import inbox
from hub.ingest.payload import Payload
from hub.model.observation import Channel


async def test_payloads_arriving_together_share_entries_and_each_is_kept_once(redis: Redis) -> None:
    box = inbox.Inbox(redis)
    payloads = [
        Payload("alopeyk", "webhook", json.dumps({"order": {"id": n}}).encode(), Channel.WEBHOOK, "mer_1")
        for n in range(250)
    ]
    accepted = await asyncio.gather(*(box.add(payload) for payload in payloads))
    await box.close()

    entries = await redis.xrange(keys.INBOX)
    assert {entry_id for entry_id, _ in entries} == set(accepted)
    assert len(entries) < len(payloads)  # grouped: a share of one XADD each
    held = [inbox.from_entry(fields) for _, fields in entries]
    assert max(len(payloads_of_entry) for payloads_of_entry in held) <= inbox.PAYLOADS_PER_ENTRY
    assert sorted(p.body for group in held for p in group) == sorted(p.body for p in payloads)
