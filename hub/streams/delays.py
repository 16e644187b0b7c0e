"""``shipment.delayed``: a shipment whose ETA (plus its provider's grace) passed unfinished.

Two halves share the due-time index ``hub:delay:due`` (shipment id -> ETA + grace, ms):

- :class:`DelayIndex` runs where events are appended (:mod:`hub.ingest.pipeline`): every new event
  carrying an ETA (re)sets the shipment's due time, a terminal status takes it out.
- :class:`DelayChecker` runs in the poll workers, on shipments the scheduler claimed from
  the index once due (``workers/scheduler.py``); it takes ``now`` as a parameter.

The index is only a hint; the shipment's hash is the truth. The checker re-reads the
status and ETA, and the append script voids a ``shipment.delayed`` whose shipment
finished or whose ETA moved meanwhile. The event's ``time`` is the ETA that passed, so
its deterministic id (:func:`hub.model.event.event_id`) is the same in every process and on
every retry: two checkers, a restart or a lost lease publish it once. A new ETA that
passes again is another ``time``, another id, another event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hub import keys
from hub.errors import NotFound
from hub.infra import metrics
from hub.infra.lru import LRU
from hub.model import times
from hub.model.event import CloudEvent, build
from hub.model.observation import Channel, EventType, Observation
from hub.model.status import TERMINAL, Status
from hub.registry import shipments
from hub.settings import Settings
from hub.streams.append import Appended, Store

log = logging.getLogger(__name__)

# Set the score to ARGV[3] (or remove the member when it is empty), only if it is still
# ARGV[2]: an ETA indexed while the checker was busy is never overwritten.
_SETTLE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
"""


def due_ms(eta: str, grace_s: float) -> int:
    """When a shipment with this ETA (RFC 3339) becomes late."""
    return int((times.parse(eta, UTC) + timedelta(seconds=grace_s)).timestamp() * 1000)


class DelayIndex:
    """Keeps ``hub:delay:due`` in step with the ETAs and terminal statuses being appended."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The ETA this process last indexed per shipment: a courier's position updates repeat it.
        self._indexed: LRU[str, str] = LRU(max_entries=100_000, ttl_s=600)

    def queue(self, pipe: Pipeline, written: list[tuple[CloudEvent, Appended]]) -> int:
        """Queue the index updates the ``(event, outcome)`` pairs call for; returns how many."""
        new = [event for event, appended in written if appended.outcome == "new"]
        finished = {
            event["partitionkey"]
            for event in new
            if event["type"] == EventType.STATUS_CHANGED.value and event["data"].get("status") in TERMINAL
        }
        for shipment_id in finished:  # a position reported with the delivery re-arms nothing
            pipe.zrem(keys.DELAY_DUE, shipment_id)
            self._indexed.put(shipment_id, "")
        etas = {
            event["partitionkey"]: (eta, event["data"]["provider"])
            for event in new
            if (eta := event["data"]["eta"]) and event["type"] != EventType.DELAYED.value
        }
        queued = len(finished)
        for shipment_id, (eta, provider) in etas.items():
            if shipment_id not in finished and self._indexed.get(shipment_id) != eta:
                grace_s = self.settings.delay_grace(provider)
                pipe.zadd(keys.DELAY_DUE, {shipment_id: due_ms(eta, grace_s)})
                self._indexed.put(shipment_id, eta)
                queued += 1
        return queued


@dataclass(frozen=True)
class Checked:
    shipment_id: str
    result: str  # published | duplicate | waiting | finished | no_eta | gone | void


class DelayChecker:
    """Publishes ``shipment.delayed`` for claimed shipments that are late at ``now``."""

    def __init__(self, redis: Redis, settings: Settings, store: Store | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.store = store or Store(redis, settings)
        self._settle = redis.register_script(_SETTLE)

    async def check_many(self, shipment_ids: list[str], now: datetime) -> list[Checked]:
        return [await self.check(shipment_id, now) for shipment_id in shipment_ids]

    async def check(self, shipment_id: str, now: datetime) -> Checked:
        """Decide one shipment at ``now``: publish, wait for a later due time, or drop it."""
        claimed = await self.redis.zscore(keys.DELAY_DUE, shipment_id)
        try:
            shipment = await shipments.get(self.redis, shipment_id)
        except NotFound:
            return await self._settled(shipment_id, claimed, None, "gone")
        eta = shipment.state.get("eta")
        if shipment.terminal or not shipment.tracking:
            return await self._settled(shipment_id, claimed, None, "finished")
        if not eta:
            return await self._settled(shipment_id, claimed, None, "no_eta")
        late_ms = due_ms(eta, self.settings.delay_grace(shipment.provider))
        if late_ms > now.timestamp() * 1000:  # the ETA moved later, or the claim came early
            return await self._settled(shipment_id, claimed, late_ms, "waiting")
        [appended] = await self.store.append([delayed_event(shipment, eta, now, self.settings.public_url)])
        result = {"new": "published", "republish": "published"}.get(appended.outcome, appended.outcome)
        if result == "published":
            log.info("shipment %s is late: ETA %s passed", shipment_id, eta)
            await metrics.inc(self.redis, "hub_delays_published_total", provider=shipment.provider)
        return await self._settled(shipment_id, claimed, None, result)

    async def _settled(
        self, shipment_id: str, claimed: float | None, next_ms: int | None, result: str
    ) -> Checked:
        if claimed is not None:
            next_score = "" if next_ms is None else str(next_ms)
            await self._settle(keys=[keys.DELAY_DUE], args=[shipment_id, repr(claimed), next_score])
        return Checked(shipment_id, result)


def delayed_event(
    shipment: shipments.Shipment, eta: str, now: datetime, public_url: str | None = None
) -> CloudEvent:
    """The CloudEvent (before sequencing): dated at the ETA that passed, so its id is that ETA's.

    With ``public_url`` it carries the shipment's tracking link, as every event built for a merchant.
    """
    status = shipment.status
    observation = Observation(
        type=EventType.DELAYED,
        provider=shipment.provider,
        provider_ref=shipment.provider_ref,
        time=times.parse(eta, UTC),
        status=_status(status),
        eta=times.parse(eta, UTC),
    )
    ref = shipment.ref if public_url is None else shipment.ref_at(public_url)
    event = build(observation, ref, Channel.HUB, times.rfc3339(now))
    event["data"]["eta"] = eta  # exactly the hash's text, which the append script compares
    return event


def _status(value: str | None) -> Status | None:
    try:
        return Status(value) if value else None
    except ValueError:
        return Status.UNKNOWN
