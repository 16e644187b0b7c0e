"""The dead-letter stream: payloads the hub received but could not turn into events.

Nothing is dropped silently: the raw body is kept with the reason, and an operator can
replay an entry once the cause is fixed (``hub deadletter replay <id>``).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys
from hub.errors import NotFound


@dataclass(frozen=True)
class DeadLetter:
    id: str
    provider: str
    kind: str
    channel: str
    reason: str
    body: bytes
    received_ms: int
    merchant_id: str | None = None
    ref: str | None = None
    replayed_as: str | None = None

    def to_json(self) -> dict[str, Any]:
        try:
            body: str = self.body.decode()
            encoding = "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode(), "base64"
        return {
            "id": self.id,
            "provider": self.provider,
            "kind": self.kind,
            "channel": self.channel,
            "reason": self.reason,
            "merchant_id": self.merchant_id,
            "ref": self.ref,
            "received_ms": self.received_ms,
            "body": body,
            "body_encoding": encoding,
            "replayed_as": self.replayed_as,
        }


async def add(
    redis: Redis,
    *,
    provider: str,
    kind: str,
    channel: str,
    reason: str,
    body: bytes,
    merchant_id: str | None = None,
    ref: str | None = None,
) -> str:
    fields: dict[str, str | bytes | int] = {
        "provider": provider,
        "kind": kind,
        "channel": channel,
        "reason": reason,
        "body": base64.b64encode(body).decode(),
        "received_ms": int(time.time() * 1000),
    }
    if merchant_id:
        fields["merchant_id"] = merchant_id
    if ref:
        fields["ref"] = ref
    entry: str = await redis.xadd(keys.DEADLETTER, fields)
    return entry


async def recent(redis: Redis, count: int = 50) -> list[DeadLetter]:
    return [_parse(entry, fields) for entry, fields in await redis.xrevrange(keys.DEADLETTER, count=count)]


async def get(redis: Redis, entry_id: str) -> DeadLetter:
    found = await redis.xrange(keys.DEADLETTER, entry_id, entry_id)
    if not found:
        raise NotFound(f"no dead letter {entry_id}; `hub deadletter list` shows the recent ones")
    return _parse(*found[0])


async def mark_replayed(redis: Redis, entry_id: str, outcome: str) -> None:
    """Streams are append-only, so the outcome of a replay is kept in a hash beside them."""
    await redis.hset(keys.DEADLETTER_REPLAYED, entry_id, outcome)


def _parse(entry_id: str, fields: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        id=entry_id,
        provider=fields["provider"],
        kind=fields["kind"],
        channel=fields["channel"],
        reason=fields["reason"],
        body=base64.b64decode(fields["body"]),
        received_ms=int(fields["received_ms"]),
        merchant_id=fields.get("merchant_id"),
        ref=fields.get("ref"),
    )
