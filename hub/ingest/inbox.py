"""The inbox: provider payloads a receiver accepted, kept durably until they become events.

A receiver answers as soon as its payload is in this stream, so a provider's webhook
costs a share of one round trip instead of the whole normalization; ``hub normalizer``
processes turn the entries into events (:mod:`hub.normalizer`), and delete an entry once
its events (or dead letters) are written.

Payloads that arrive while a write is in flight go together into the next one, and into
one entry (up to ``PAYLOADS_PER_ENTRY``): redis-py packs and parses every command and
argument in Python, so one ``XADD`` of a JSON list costs a fraction of one per payload.

With ``HUB_INGEST_DURABILITY=fsync`` each such write also waits, in the same pipeline (so on
the same connection, as ``WAITAOF`` requires), until Redis has fsynced its append-only file:
one ``WAITAOF 1 0`` per group of concurrent requests, so the answer survives a host crash.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from hub import keys
from hub.errors import ConfigError, HubError
from hub.infra import metrics
from hub.infra.group_commit import GroupCommit
from hub.infra.redis_clients import UNAVAILABLE, is_cluster
from hub.ingest.payload import Payload
from hub.model.observation import Channel

log = logging.getLogger(__name__)

PAYLOADS_PER_ENTRY = 100


NO_AOF = "HUB_INGEST_DURABILITY=fsync needs Redis's append-only file: set `appendonly yes` on the server"


class NotDurable(HubError):
    """The payload was written but Redis did not confirm its fsync: answer 503, the sender retries."""


class Inbox:
    def __init__(self, redis: Redis, *, durability: str = "written", fsync_timeout_ms: int = 2000) -> None:
        self.redis = redis
        self.fsync = durability == "fsync"
        if self.fsync and is_cluster(redis):  # WAITAOF must share a connection with the XADD it covers
            raise ConfigError("HUB_INGEST_DURABILITY=fsync is not supported with HUB_REDIS_CLUSTER yet")
        self.fsync_timeout_ms = fsync_timeout_ms
        self.counts = metrics.Buffer(redis)
        # An unconfirmed fsync is no caller's fault: all its waiters answer 503, none is written again.
        self._commit: GroupCommit[str, str] = GroupCommit(self._write, shared=(*UNAVAILABLE, NotDurable))

    async def check_durability(self) -> None:
        """At startup, with fsync: a server without an append-only file is a configuration error."""
        if not self.fsync:
            return
        try:
            await self.redis.execute_command("WAITAOF", 1, 0, self.fsync_timeout_ms)
        except ResponseError as exc:
            if "appendonly" in str(exc).lower():
                raise ConfigError(f"{NO_AOF} (Redis said: {exc})") from None
            raise ConfigError(
                f"HUB_INGEST_DURABILITY=fsync needs WAITAOF (Redis 7.2+, Valkey 8); Redis said: {exc}"
            ) from None
        except RedisError as exc:  # Redis away at startup: every write checks again, answering 503
            log.warning("could not check Redis's append-only file at startup: %s", exc)

    async def close(self) -> None:
        """Write the counts of the last second; call before the event loop ends."""
        await self.counts.close()

    async def add(self, payload: Payload) -> str:
        """Append ``payload`` durably; returns the id of the entry that holds it."""
        [entry] = await self._commit.submit([item_json(payload)])
        return entry

    async def _write(self, items: list[str]) -> list[str]:
        chunks = [items[i : i + PAYLOADS_PER_ENTRY] for i in range(0, len(items), PAYLOADS_PER_ENTRY)]
        if len(chunks) == 1 and not self.fsync:  # redis-py's pipeline of one command costs 40% more CPU
            replies = [await self.redis.xadd(keys.INBOX, {"payloads": _list(items)})]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for chunk in chunks:
                pipe.xadd(keys.INBOX, {"payloads": _list(chunk)})
            if self.fsync:
                pipe.execute_command("WAITAOF", 1, 0, self.fsync_timeout_ms)
            replies = await self._execute(pipe)
        entries = [_text(entry) for entry in replies[: len(chunks)]]
        self.counts.add("hub_inbox_accepted_total", len(items))
        return [entry for entry, chunk in zip(entries, chunks, strict=True) for _ in chunk]

    async def _execute(self, pipe: Any) -> list[Any]:
        try:
            replies: list[Any] = await pipe.execute()
        except ResponseError as exc:
            if "appendonly" in str(exc).lower():
                raise NotDurable(f"{NO_AOF}; the payload may be stored, but unsynced") from None
            raise
        if self.fsync:
            local, _replicas = replies[-1]
            if int(local) < 1:
                raise NotDurable(f"Redis did not fsync within {self.fsync_timeout_ms} ms")
            self.counts.add("hub_inbox_fsync_waits_total")
        return replies


def to_item(payload: Payload) -> dict[str, Any]:
    """A payload as the JSON object its entry's list holds."""
    return {**_head(payload), "body": base64.b64encode(payload.body).decode("ascii")}


def item_json(payload: Payload) -> str:
    """:func:`to_item`'s JSON, made in the payload's request. The body, base64, needs no escaping, so
    it is spliced in rather than scanned by ``json.dumps`` (which cost 11% of a receiver's CPU at
    saturation, py-spy on bench/ingest.py)."""
    body = base64.b64encode(payload.body).decode("ascii")
    head = _head_json(
        payload.provider, payload.kind, payload.channel, payload.merchant_id, payload.ref, payload.register
    )
    return f'{head}, "body": "{body}"}}'


@functools.lru_cache(maxsize=4096)
def _head_json(
    provider: str, kind: str, channel: Channel, merchant_id: str | None, ref: str | None, register: bool
) -> str:
    """The item's JSON up to its body, open: the same for every webhook of a merchant's receiver, so
    made once (``json.dumps`` per request was 3% of a receiver's CPU, py-spy on bench/ingest.py)."""
    head = Payload(provider, kind, b"", channel, merchant_id=merchant_id, ref=ref, register=register)
    return json.dumps(_head(head))[:-1]


def _head(payload: Payload) -> dict[str, Any]:
    item: dict[str, Any] = {
        "provider": payload.provider,
        "kind": payload.kind,
        "channel": payload.channel.value,
    }
    if payload.merchant_id:
        item["merchant_id"] = payload.merchant_id
    if payload.ref:
        item["ref"] = payload.ref
    if payload.register:
        item["register"] = True
    return item


def _list(items: list[str]) -> str:
    return f"[{', '.join(items)}]"


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
