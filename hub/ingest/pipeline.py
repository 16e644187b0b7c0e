"""The one path every provider payload takes: parse, normalize, bind, append.

Receivers, the poller and the Pusher listener all call :meth:`Ingestor.ingest_raw`. A
payload that cannot be normalized, or that names no shipment the hub knows, goes to
the dead-letter stream with the reason and the caller gets :class:`Rejected`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from redis.asyncio import Redis

from hub import providers
from hub.errors import Conflict, NormalizationError
from hub.infra import metrics
from hub.infra.lru import LRU
from hub.ingest import deadletter
from hub.ingest.indexes import Indexes
from hub.ingest.payload import Ingested, Payload, Rejected
from hub.model import times
from hub.model.event import CloudEvent, build, event_id
from hub.model.observation import Channel, EventType, Observation, dated
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.append import Appended, Store

log = logging.getLogger(__name__)

LANES_AT_ONCE = 50  # shipments ingested concurrently by one batch (each may hold a Redis connection)


class Ingestor:
    def __init__(self, redis: Redis, settings: Settings, store: Store | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.store = store or Store(redis, settings)
        self.counts = metrics.Buffer(redis)
        self.indexes = Indexes(redis, settings)
        # A shipment's owner and references never change once registered.
        self._shipments: LRU[tuple[str, str], shipments.Shipment] = LRU(max_entries=100_000, ttl_s=60)

    async def close(self) -> None:
        """Write the counts of the last second; call before the event loop ends."""
        await self.counts.close()

    async def ingest_raw(
        self,
        provider: str,
        kind: str,
        body: bytes,
        channel: Channel,
        *,
        merchant_id: str | None = None,
        ref: str | None = None,
        register: bool = False,
        dead_letter: bool = True,
        shipment: shipments.Shipment | None = None,
    ) -> Ingested:
        """Normalize ``body`` and append its events; ``register`` adds new shipments to ``merchant_id``.

        ``shipment`` is the shipment the caller asked the provider about (a poll): the answer
        belongs to it, whatever id the answer itself carries (all24 answers a third-party
        lookup with its own number).
        """
        payload = Payload(provider, kind, body, channel, merchant_id, ref, register)
        try:
            return await self.ingest(
                self.normalize(payload),
                channel,
                merchant_id=merchant_id,
                register=register,
                shipment=shipment,
            )
        except NormalizationError as error:
            raise await self.reject(payload, error, dead_letter) from error

    async def ingest_batch(self, payloads: list[Payload]) -> list[Ingested | Rejected]:
        """Ingest many payloads at once, sharing round trips; one shipment's payloads stay in order."""
        normalized = [self._normalize_or_error(payload) for payload in payloads]
        lanes: dict[object, list[int]] = {}
        for index, (payload, outcome) in enumerate(zip(payloads, normalized, strict=True)):
            lanes.setdefault(_lane(payload, outcome, index), []).append(index)
        results: dict[int, Ingested | Rejected] = {}
        lanes_at_once = asyncio.Semaphore(LANES_AT_ONCE)

        async def run_lane(indexes: list[int]) -> None:
            async with lanes_at_once:
                for index in indexes:
                    results[index] = await self._ingest_normalized(payloads[index], normalized[index])

        lane_results = await asyncio.gather(
            *(run_lane(indexes) for indexes in lanes.values()), return_exceptions=True
        )
        # Every lane has finished (none left running behind the caller's retry); then the first failure.
        for lane_result in lane_results:
            if isinstance(lane_result, BaseException):
                raise lane_result
        return [results[index] for index in range(len(payloads))]

    async def _ingest_normalized(
        self, payload: Payload, normalized: list[Observation] | NormalizationError
    ) -> Ingested | Rejected:
        try:
            if isinstance(normalized, NormalizationError):
                raise normalized
            return await self.ingest(
                normalized, payload.channel, merchant_id=payload.merchant_id, register=payload.register
            )
        except NormalizationError as error:
            return await self.reject(payload, error)

    def _normalize_or_error(self, payload: Payload) -> list[Observation] | NormalizationError:
        """A normalizer's bug must not stop a batch: it becomes a dead letter like any bad payload."""
        try:
            return self.normalize(payload)
        except NormalizationError as error:
            return error
        except Exception as exc:
            log.exception("normalizing a %s %s payload failed", payload.provider, payload.kind)
            return NormalizationError(payload.provider, f"internal error while normalizing: {exc!r}")

    def normalize(self, payload: Payload) -> list[Observation]:
        """The payload's observations (pure: no I/O); raises :class:`NormalizationError`."""
        module = providers.get(payload.provider)
        parsed = module.parse_body(payload.body)
        tz = times.zone(self.settings.provider(payload.provider).timezone)
        return providers.normalize(payload.provider, parsed, kind=payload.kind, tz=tz, ref=payload.ref)

    async def reject(self, payload: Payload, error: NormalizationError, dead_letter: bool = True) -> Rejected:
        """Count the failure and keep the payload in the dead-letter stream (unless told not to)."""
        provider, channel = payload.provider, payload.channel.value
        await metrics.inc(self.redis, "hub_normalization_failures_total", provider=provider, channel=channel)
        entry = None
        if dead_letter:
            entry = await deadletter.add(
                self.redis,
                provider=payload.provider,
                kind=payload.kind,
                channel=payload.channel.value,
                reason=error.reason,
                body=payload.body,
                merchant_id=payload.merchant_id,
                ref=payload.ref,
            )
        return Rejected(error, entry)

    async def ingest(
        self,
        observations: list[Observation],
        channel: Channel,
        *,
        merchant_id: str | None = None,
        register: bool = False,
        shipment: shipments.Shipment | None = None,
    ) -> Ingested:
        """Append ``observations``; each binds to ``shipment`` when given, else to the one its ids name."""
        received_at = datetime.now(UTC)
        recorded = times.rfc3339(received_at)
        observations = [dated(observation, received_at) for observation in observations]
        bound: dict[tuple[str, str], shipments.Shipment] = {}
        registered: list[str] = []
        appended: list[Appended | None] = []
        fresh: list[tuple[Observation, CloudEvent]] = []
        for observation in observations:
            key = (observation.provider, observation.provider_ref)
            if shipment is not None:
                bound[key] = _polled(shipment, observation)
            elif key not in bound:
                found, created = await self._shipment(observation, merchant_id, register)
                bound[key] = found
                if created:
                    registered.append(found.id)
            change_id = event_id(observation, bound[key].id)
            if self.store.published_here(change_id):  # a resend: no need to build or send it
                appended.append(
                    Appended(change_id, bound[key].id, "duplicate", provider=observation.provider)
                )
            else:
                appended.append(None)
                ref = bound[key].ref_at(self.settings.public_url)
                event = build(observation, ref, channel, recorded, _cannot_follow(observation))
                fresh.append((observation, event))
        written = await self.store.append([event for _, event in fresh])
        await self.indexes.update([event for _, event in fresh], written, observations, bound)
        remaining = iter(written)
        results = [known or next(remaining) for known in appended]
        await self.indexes.count_unknown(
            [o for (o, _), a in zip(fresh, written, strict=True) if a.outcome == "new"]
        )
        self._count_outcomes(results, channel)
        return Ingested(results, registered)

    def _count_outcomes(self, results: list[Appended], channel: Channel) -> None:
        for appended in results:
            self.counts.add(
                "hub_events_ingested_total",
                channel=channel.value,
                outcome=appended.outcome,
                provider=appended.provider,
            )

    async def _shipment(
        self, observation: Observation, merchant_id: str | None, register: bool
    ) -> tuple[shipments.Shipment, bool]:
        key = (observation.provider, observation.provider_ref)
        found = self._shipments.get(key) or await shipments.find(self.redis, *key)
        if found is not None:
            self._shipments.put(key, found)
            if merchant_id is not None and found.merchant_id != merchant_id:
                raise NormalizationError(
                    observation.provider,
                    f"shipment {observation.provider_ref} is registered to another merchant",
                )
            return found, False
        if not (register and merchant_id):
            raise NormalizationError(
                observation.provider,
                f"no shipment is registered for {observation.provider} ref {observation.provider_ref}",
            )
        try:
            return await shipments.register(
                self.redis,
                merchant_id,
                observation.provider,
                observation.provider_ref,
                observation.merchant_ref,
            )
        except Conflict as exc:
            raise NormalizationError(observation.provider, str(exc)) from None


def _polled(shipment: shipments.Shipment, observation: Observation) -> shipments.Shipment:
    """The polled shipment, for an observation its answer gave (always the same provider)."""
    if observation.provider != shipment.provider:
        raise NormalizationError(
            observation.provider,
            f"the poll of {shipment.provider} shipment {shipment.id} was answered by {observation.provider}",
        )
    return shipment


def _cannot_follow(observation: Observation) -> frozenset[str]:
    """The flow's codes this status change may not follow, when its provider declares a flow."""
    flow = providers.flow(observation.provider)
    if flow is None or observation.type != EventType.STATUS_CHANGED or observation.provider_status is None:
        return frozenset()
    return flow.cannot_follow(observation.provider_status.code)


def _lane(payload: Payload, normalized: list[Observation] | NormalizationError, index: int) -> object:
    """Payloads about one shipment share a lane, so their events are appended in the order received."""
    if isinstance(normalized, list) and normalized:
        return (payload.provider, normalized[0].provider_ref)
    return index
