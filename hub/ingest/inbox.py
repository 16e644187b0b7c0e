"""The inbox: provider payloads a receiver accepted, kept durably until they become events.

A receiver answers as soon as its payload is in this stream, so a provider's webhook
costs a share of one round trip instead of the whole normalization; ``hub normalizer``
processes turn the entries into events (:mod:`hub.normalizer`), and delete an entry once
its events (or dead letters) are written.

Payloads that arrive while a write is in flight go together into the next one, and into
one entry (up to ``PAYLOADS_PER_ENTRY``): redis-py packs and parses every command and
argument in Python, so one ``XADD`` of a JSON list costs a fraction of one per payload.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.infra import metrics
from hub.infra.group_commit import GroupCommit
from hub.ingest.pipeline import Payload
from hub.model.observation import Channel

PAYLOADS_PER_ENTRY = 100


class Inbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.counts = metrics.Buffer(redis)
        self._commit: GroupCommit[dict[str, Any], str] = GroupCommit(self._write)

    async def close(self) -> None:
        """Write the counts of the last second; call before the event loop ends."""
        await self.counts.close()

    async def add(self, payload: Payload) -> str:
        """Append ``payload`` durably; returns the id of the entry that holds it."""
        [entry] = await self._commit.submit([to_item(payload)])
        return entry

    async def _write(self, items: list[dict[str, Any]]) -> list[str]:
        chunks = [items[i : i + PAYLOADS_PER_ENTRY] for i in range(0, len(items), PAYLOADS_PER_ENTRY)]
        if len(chunks) == 1:  # the usual write: redis-py's pipeline of one command costs 40% more CPU
            replies = [await self.redis.xadd(keys.INBOX, {"payloads": json.dumps(items)})]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for chunk in chunks:
                pipe.xadd(keys.INBOX, {"payloads": json.dumps(chunk)})
            replies = await pipe.execute()
        entries = [_text(entry) for entry in replies]
        self.counts.add("hub_inbox_accepted_total", len(items))
        return [entry for entry, chunk in zip(entries, chunks, strict=True) for _ in chunk]


def to_item(payload: Payload) -> dict[str, Any]:
    item: dict[str, Any] = {
        "provider": payload.provider,
        "kind": payload.kind,
        "channel": payload.channel.value,
        "body": base64.b64encode(payload.body).decode(),
    }
    if payload.merchant_id:
        item["merchant_id"] = payload.merchant_id
    if payload.ref:
        item["ref"] = payload.ref
    if payload.register:
        item["register"] = True
    return item


def from_entry(fields: dict[str, Any]) -> list[Payload]:
    """The payloads of one entry; an entry :class:`Inbox` did not write raises a lookup or value error."""
    return [
        Payload(
            provider=item["provider"],
            kind=item["kind"],
            body=base64.b64decode(item["body"], validate=True),
            channel=Channel(item["channel"]),
            merchant_id=item.get("merchant_id"),
            ref=item.get("ref"),
            register=item.get("register") is True,
        )
        for item in json.loads(fields["payloads"])
    ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
