"""Appending events to Redis streams: atomic, idempotent, and batched.

One Lua script per shipment does everything that must happen together: drop a change
already recorded, assign the next ``sequence``, move the current status forward (never
backwards: an older event is recorded but marked ``stale``), append to the shipment's
history, and publish to ``hub:events`` and the merchant's own stream
(:func:`hub.keys.merchant_events`). On one server that is a single atomic step.

On a Redis Cluster both streams live in other slots than the shipment, so the script
puts the entry in the shipment's outbox instead, and the caller adds it to both streams
and takes it out of the outbox. Should the process die between the two, the entry's
outbox lease runs out and the next sighting of the same change publishes it
(``republish``), so nothing reaches a history without reaching both streams.

Concurrent requests share round trips: :class:`Store` collects the appends that arrive
while a write is in flight and sends them together in one pipeline (:mod:`hub.batching`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from hub import keys
from hub.infra.group_commit import GroupCommit
from hub.infra.lru import LRU
from hub.infra.redis_clients import run_scripts
from hub.model.event import ORDERING, CloudEvent, split_for_append
from hub.settings import Settings
from hub.streams.append_script import APPEND


@dataclass(frozen=True)
class Appended:
    """What became of one event: ``new``, ``duplicate`` (already recorded), ``republish``, or ``void``.

    ``void``: a ``shipment.delayed`` no longer true when appended (finished, or the ETA moved).
    """

    event_id: str
    shipment_id: str
    outcome: str
    event_json: str | None = None
    provider: str = ""

    @property
    def published(self) -> bool:
        return self.outcome in ("new", "republish")

    @property
    def event(self) -> CloudEvent | None:
        """The CloudEvent as appended (with its sequence), for published events."""
        return json.loads(self.event_json) if self.event_json else None


class Store:
    """Appends CloudEvents (as built by :func:`hub.events.build`) to the streams."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._script = redis.register_script(APPEND)
        self._commit: GroupCommit[CloudEvent, Appended] = GroupCommit(self._write)
        # Ids this process appended and published: a provider's resend of them needs no round trip.
        self._published: LRU[str, bool] = LRU(max_entries=200_000, ttl_s=3600)

    def published_here(self, event_id: str) -> bool:
        """Whether this process appended and published ``event_id`` recently (no round trip)."""
        return event_id in self._published

    async def append(self, events: list[CloudEvent]) -> list[Appended]:
        """Append ``events`` (in order); returns once they are on both streams.

        The caller skips what :meth:`published_here` knows (the ingest path does, before it
        even builds the event); the script drops any other change already recorded.
        """
        return await self._commit.submit(events) if events else []

    async def _write(self, events: list[CloudEvent]) -> list[Appended]:
        """One script call per shipment for all its events, one pipeline for them all."""
        now_ms = int(time.time() * 1000)
        inline = not isinstance(self.redis, RedisCluster)
        by_shipment: dict[str, list[CloudEvent]] = {}
        for event in events:
            by_shipment.setdefault(event["partitionkey"], []).append(event)
        calls = []
        for shipment_id, group in by_shipment.items():
            merchant_stream = keys.merchant_events(group[0]["data"]["merchant_id"])
            script_keys = keys.shipment_keys(shipment_id) + ([keys.EVENTS, merchant_stream] if inline else [])
            trims = [*self._trim(), *self._merchant_trim()]
            args: list[Any] = [now_ms, self.settings.outbox_lease_ms, shipment_id, *trims]
            args += [group[0]["data"]["merchant_id"], group[0]["data"]["provider"]]
            for event in group:
                args += _args(event)
            calls.append((script_keys, args))
        replies = await run_scripts(self.redis, [(self._script, k, a) for k, a in calls])

        outcomes: dict[str, Appended] = {}
        publish = self.redis.pipeline(transaction=False)
        for (shipment_id, group), reply in zip(by_shipment.items(), replies, strict=True):
            unpublished = []
            for event, (outcome, entry, text) in zip(group, _triples(reply), strict=True):
                # The script published a new event itself on one server; a republish never.
                if outcome == "republish" or (outcome == "new" and not inline):
                    fields = entry_fields(text, shipment_id, event)
                    trim_kind, trim_value = self._trim()
                    publish.xadd(keys.EVENTS, fields, approximate=True, **{trim_kind.lower(): trim_value})
                    merchant_stream = keys.merchant_events(event["data"]["merchant_id"])
                    trim_kind, trim_value = self._merchant_trim()
                    publish.xadd(merchant_stream, fields, approximate=True, **{trim_kind.lower(): trim_value})
                    unpublished.append(entry)
                provider = event["data"]["provider"]
                outcomes[event["id"]] = Appended(event["id"], shipment_id, outcome, text or None, provider)
            if unpublished:
                publish.zrem(keys.outbox(shipment_id), *unpublished)
        if len(publish):
            await publish.execute()
        results = [outcomes[event["id"]] for event in events]
        for appended in results:
            if appended.published:
                self._published.put(appended.event_id, True)
        return results

    def _trim(self) -> tuple[str, int]:
        """How hub:events is trimmed: by age when configured, else by length (both approximate)."""
        if self.settings.stream.max_age_s > 0:
            return "MINID", int(time.time() * 1000) - self.settings.stream.max_age_s * 1000
        return "MAXLEN", self.settings.stream.maxlen

    def _merchant_trim(self) -> tuple[str, int]:
        """How each merchant's stream is trimmed (``HUB_MERCHANT_STREAM_*``), the same way."""
        own = self.settings.merchant_stream
        if own.max_age_s > 0:
            return "MINID", int(time.time() * 1000) - own.max_age_s * 1000
        return "MAXLEN", own.maxlen


def entry_fields(text: str, shipment_id: str, event: CloudEvent) -> dict[str, Any]:
    """A ``hub:events`` entry: the event's JSON, and beside it what consumers route on without parsing."""
    return {
        "event": text,
        "shipment": shipment_id,
        "type": event["type"],
        "id": event["id"],
        "sequence": json.loads(text)["sequence"],  # a republish or a cluster's publish: not the hot path
        "merchant": event["data"]["merchant_id"],
        "provider": event["data"]["provider"],
    }


def _args(event: CloudEvent) -> list[Any]:
    """The script's FIELDS values for one event."""
    data = event["data"]
    head, body = split_for_append(event)
    ordering = event.get(ORDERING)
    return [
        event["id"],
        head,
        body,
        event["type"],
        ordering["after_ms"] if ordering else _epoch_ms(event["time"]),
        data.get("status") or "",
        json.dumps(data["location"]) if data.get("location") else "",
        json.dumps(data["courier"]) if data.get("courier") else "",
        data.get("eta") or "",
        data.get("merchant_ref") or "",
        _code(event),
        "1" if ordering and ordering["undated"] else "",
        "\x1f".join(ordering["cannot_follow"]) if ordering else "",
    ]


def _triples(reply: list[Any]) -> list[tuple[str, str, str]]:
    items = [_text(value) for value in reply]
    return [(items[i], items[i + 1], items[i + 2]) for i in range(0, len(items), 3)]


def _code(event: CloudEvent) -> str:
    """The provider's status code of a status change, as the script compares it."""
    provider_status = event["data"]["provider_status"]
    code = provider_status["code"] if provider_status else None
    return "" if event["type"] != "shipment.status_changed" or code is None else f"{code}"


def _epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
