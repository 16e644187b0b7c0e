"""The inbox: provider payloads a receiver accepted, kept durably until they become events.

A receiver answers as soon as the payload is in this stream, so a provider's webhook
costs one shared round trip (:mod:`hub.batching`) instead of the whole normalization;
``hub normalizer`` processes turn the entries into events (:mod:`hub.normalizer`).
Entries are deleted once their events (or their dead letter) are written.
"""

from __future__ import annotations

import base64
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.batching import GroupCommit
from hub.ingest import Payload
from hub.observations import Channel


class Inbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._commit: GroupCommit[dict[str, str], str] = GroupCommit(self._write)

    async def add(self, payload: Payload) -> str:
        """Append ``payload`` durably; returns its entry id."""
        [entry] = await self._commit.submit([to_fields(payload)])
        return entry

    async def _write(self, entries: list[dict[str, str]]) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(keys.INBOX, fields)
        return [_text(entry) for entry in await pipe.execute()]


def to_fields(payload: Payload) -> dict[str, str]:
    fields = {
        "provider": payload.provider,
        "kind": payload.kind,
        "channel": payload.channel.value,
        "body": base64.b64encode(payload.body).decode(),
    }
    if payload.merchant_id:
        fields["merchant_id"] = payload.merchant_id
    if payload.ref:
        fields["ref"] = payload.ref
    if payload.register:
        fields["register"] = "1"
    return fields


def from_fields(fields: dict[str, Any]) -> Payload:
    """The payload of an inbox entry; raises ``KeyError`` or ``ValueError`` for an entry not written by us."""
    return Payload(
        provider=fields["provider"],
        kind=fields["kind"],
        body=base64.b64decode(fields["body"], validate=True),
        channel=Channel(fields["channel"]),
        merchant_id=fields.get("merchant_id"),
        ref=fields.get("ref"),
        register=fields.get("register") == "1",
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
