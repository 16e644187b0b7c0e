"""What the ingest path keeps beside the streams, in one round trip after each append.

New ETAs (re)arm the ``shipment.delayed`` check and a terminal status disarms it
(:mod:`hub.streams.delays`) and starts the retention clock (:mod:`hub.registry.retention`);
merchant references and :data:`ALIASES` are indexed; unknown provider codes are counted.
"""

from __future__ import annotations

from redis.asyncio import Redis

from hub import keys
from hub.infra.lru import LRU
from hub.model.event import CloudEvent
from hub.model.observation import Observation
from hub.model.status import Status
from hub.registry import shipments
from hub.registry.retention import Upkeep
from hub.settings import Settings
from hub.streams.append import Appended
from hub.streams.delays import DelayIndex

# Other ids a payload gives a shipment that some reader looks shipments up by: HLD's order list
# names orders by id, not by the tracking token the shipment is registered under.
ALIASES = frozenset({("hld", "order_id")})
MAX_ALIAS_CHARS = 100  # HLD order ids are 16; anything longer is not one


class Indexes:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.delays = DelayIndex(settings)
        self.upkeep = Upkeep(redis, settings)
        self._aliased: LRU[tuple[str, str, str], bool] = LRU(max_entries=100_000, ttl_s=3600)

    async def update(
        self,
        appended: list[CloudEvent],
        written: list[Appended],
        observations: list[Observation],
        bound: dict[tuple[str, str], shipments.Shipment],
    ) -> None:
        """One round trip for the indexes beside the streams, when anything needs one.

        New ETAs (re)arm the shipment.delayed check and a terminal status disarms it
        (:mod:`hub.streams.delays`) and starts the retention clock (:mod:`hub.registry.retention`);
        merchant references and :data:`ALIASES` first seen by this process are indexed.
        """
        pipe = self.redis.pipeline(transaction=False)
        queued = self.delays.queue(pipe, list(zip(appended, written, strict=True)))
        by_id = {shipment.id: shipment for shipment in bound.values()}
        for event, outcome in zip(appended, written, strict=True):
            if outcome.outcome == "new":
                queued += self.upkeep.queue(pipe, by_id[event["partitionkey"]], event, outcome)
        for (provider, name, value), shipment_id in self._new_aliases(observations, bound).items():
            pipe.set(keys.provider_alias(provider, name, value), shipment_id, nx=True)
            queued += 1
        if queued:
            await pipe.execute()
        await self.upkeep.flush()

    def _new_aliases(
        self, observations: list[Observation], bound: dict[tuple[str, str], shipments.Shipment]
    ) -> dict[tuple[str, str, str], str]:
        found: dict[tuple[str, str, str], str] = {}
        for observation in observations:
            for name, value in observation.refs.items():
                alias = (observation.provider, name, value)
                known = (observation.provider, name) in ALIASES and len(value) <= MAX_ALIAS_CHARS
                if known and self._aliased.get(alias) is None:
                    found[alias] = bound[(observation.provider, observation.provider_ref)].id
                    self._aliased.put(alias, True)
        return found

    async def count_unknown(self, observations: list[Observation]) -> None:
        unknown = [o for o in observations if o.status == Status.UNKNOWN and o.provider_status]
        if not unknown:
            return
        pipe = self.redis.pipeline(transaction=False)
        for o in unknown:
            assert o.provider_status is not None
            pipe.hincrby(keys.unknown_codes(), f"{o.provider}:{o.provider_status.code}", 1)
        await pipe.execute()
