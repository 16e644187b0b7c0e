"""The inbox: provider payloads a receiver accepted, kept durably until they become events.

A receiver answers as soon as the payload is in this stream, so a provider's webhook
costs one shared round trip (:mod:`hub.batching`) instead of the whole normalization;
``hub normalizer`` processes turn the entries into events (:mod:`hub.normalizer`).
Entries are deleted once their events (or their dead letter) are written.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from redis.asyncio import Redis

from hub import keys, metrics
from hub.batching import GroupCommit
from hub.ingest import Payload
from hub.observations import Channel


class Inbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.counts = metrics.Buffer(redis)
        self._commit: GroupCommit[dict[str, str], str] = GroupCommit(self._write)

    async def close(self) -> None:
        """Write the counts of the last second; call before the event loop ends."""
        await self.counts.close()

    async def add(self, payload: Payload) -> str:
        """Append ``payload`` durably; returns its entry id."""
        [entry] = await self._commit.submit([to_fields(payload)])
        return entry

    async def _write(self, entries: list[dict[str, str]]) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(keys.INBOX, fields)
        written = [_text(entry) for entry in await pipe.execute()]
        self.counts.add("hub_inbox_accepted_total", len(written))
        return written


def to_fields(payload: Payload) -> dict[str, str]:
    """Two fields: redis-py packs every argument in Python, so a header in one JSON string is cheaper."""
    header: dict[str, Any] = {
        "provider": payload.provider,
        "kind": payload.kind,
        "channel": payload.channel.value,
    }
    if payload.merchant_id:
        header["merchant_id"] = payload.merchant_id
    if payload.ref:
        header["ref"] = payload.ref
    if payload.register:
        header["register"] = True
    return {"payload": json.dumps(header), "body": base64.b64encode(payload.body).decode()}


def from_fields(fields: dict[str, Any]) -> Payload:
    """The payload of an inbox entry; an entry not written by ``to_fields`` raises a lookup or value error."""
    header = json.loads(fields["payload"])
    return Payload(
        provider=header["provider"],
        kind=header["kind"],
        body=base64.b64decode(fields["body"], validate=True),
        channel=Channel(header["channel"]),
        merchant_id=header.get("merchant_id"),
        ref=header.get("ref"),
        register=header.get("register") is True,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
