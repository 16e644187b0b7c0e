"""The dead-letter stream: payloads the hub received but could not turn into events.

Nothing is dropped silently: the raw body is kept with the reason, and an operator can
replay an entry once the cause is fixed (``hub deadletter replay <id>``).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from hub.errors import NotFound
from hub.infra import metrics

REASON_CHARS_MAX = 2000  # a reason quoting a huge exception is cut, the body is kept whole
FIELD_CHARS_MAX = 500
MERCHANT_INDEX_MAX = 1000  # a merchant's newest dead letters it can list itself
EXCERPT_BYTES = 512

log = logging.getLogger(__name__)


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

    def summary(self) -> dict[str, Any]:
        """What a merchant's list shows: the reason and a bounded excerpt of the body."""
        return {
            "id": self.id,
            "provider": self.provider,
            "kind": self.kind,
            "channel": self.channel,
            "reason": self.reason,
            "ref": self.ref,
            "received_ms": self.received_ms,
            "body_bytes": len(self.body),
            "body_excerpt": body_excerpt(self.body),
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
    """Keep ``body`` with the reason, and count it (every writer the same way, in one round trip).

    Never fails on what the poison holds (surrogates, huge reasons).
    """
    fields: dict[str, str | bytes | int] = {
        "provider": safe_text(provider, FIELD_CHARS_MAX),
        "kind": safe_text(kind, FIELD_CHARS_MAX),
        "channel": safe_text(channel, FIELD_CHARS_MAX),
        "reason": safe_text(reason, REASON_CHARS_MAX),
        "body": base64.b64encode(body).decode(),
        "received_ms": int(time.time() * 1000),
    }
    if merchant_id:
        fields["merchant_id"] = safe_text(merchant_id, FIELD_CHARS_MAX)
    if ref:
        fields["ref"] = safe_text(ref, FIELD_CHARS_MAX)
    labels = {"provider": str(fields["provider"]), "channel": str(fields["channel"])}
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(keys.DEADLETTER, fields)
    pipe.hincrbyfloat(keys.METRICS, metrics.series("hub_deadletters_total", labels), 1)
    entry, _ = await pipe.execute()
    if merchant_id:
        await _index(redis, str(fields["merchant_id"]), str(entry))
    return str(entry)


async def _index(redis: Redis, merchant_id: str, entry_id: str) -> None:
    """Listed for its merchant; the dead letter itself is kept already, so an outage here only
    leaves it out of the merchant's list (the operator still sees it)."""
    key = keys.merchant_deadletters(merchant_id)
    pipe = redis.pipeline(transaction=True)
    pipe.lpush(key, entry_id)
    pipe.ltrim(key, 0, MERCHANT_INDEX_MAX - 1)
    try:
        await pipe.execute()
    except RedisError as exc:
        log.warning("dead letter %s not listed for merchant %s: %s", entry_id, merchant_id, exc)


async def for_merchant(redis: Redis, merchant_id: str, count: int = 50) -> list[DeadLetter]:
    """The merchant's own newest dead letters (never another merchant's), newest first."""
    ids = await redis.lrange(keys.merchant_deadletters(merchant_id), 0, max(0, count - 1))
    if not ids:
        return []
    pipe = redis.pipeline(transaction=False)
    for entry_id in ids:
        pipe.xrange(keys.DEADLETTER, entry_id, entry_id)
    found = [_parse(*entries[0]) for entries in await pipe.execute() if entries]
    return [letter for letter in found if letter.merchant_id == merchant_id]


def body_excerpt(body: bytes, limit_bytes: int = EXCERPT_BYTES) -> str:
    """The first bytes of a kept body as text anyone can read: invalid UTF-8 and controls replaced."""
    text = body[:limit_bytes].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
    return text + ("\u2026" if len(body) > limit_bytes else "")


def safe_text(value: object, chars_max: int) -> str:
    """``value`` as text Redis can take: lone surrogates escaped (``\\ud800``), cut at ``chars_max``."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > chars_max:
        text = text[:chars_max] + f"... ({len(text) - chars_max} more characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def stream_keeper(redis: Redis, stream: str) -> Callable[[tuple[str, Any], str], Awaitable[None]]:
    """Keeps a stream entry's raw fields as a dead letter: a consumer's last resort for its poison."""

    async def keep(entry: tuple[str, Any], reason: str) -> None:
        entry_id, fields = entry
        readable = {_printable(key): _printable(value) for key, value in fields.items()}
        await add(
            redis,
            provider="unknown",
            kind=f"stream:{stream}",
            channel="unknown",
            reason=f"{stream} entry {entry_id}: {reason}",
            body=json.dumps(readable, ensure_ascii=True).encode(),  # ASCII: lone surrogates escaped
        )

    return keep


def _printable(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value if isinstance(value, str) else repr(value)


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
