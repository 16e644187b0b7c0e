"""One poll of one shipment, and a batch of them run concurrently.

Every outcome ends with the shipment's next due time written back (or the shipment
leaving the index), so nothing a provider does can stop a shipment from being polled
again or crash the worker: faults become backoff, 401s a pause, unreadable answers
dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis

from hub import keys, providers
from hub.clients import Client, RateLimited, Unauthorized, Unavailable, account_id, accounts, build
from hub.errors import CredentialsRefused, NormalizationError, NotFound, ProviderError
from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest.payload import Payload, Rejected
from hub.ingest.pipeline import Ingestor
from hub.model import times
from hub.model.observation import Channel, EventType, Observation, ProviderStatus
from hub.model.status import Status
from hub.registry import shipments
from hub.settings import PUSH_PROVIDERS, Settings
from workers import backoff, cadence, schedule
from workers.ratelimit import RateLimiter

log = logging.getLogger(__name__)

EXPIRED_CODE = "hub.expired"


@dataclass(frozen=True)
class Outcome:
    shipment_id: str
    result: str  # polled | confirming | waiting | throttled | failed | paused | stopped | expired | gone


class Poller:
    """Polls shipments with one Redis client and one HTTP pool (one per job's event loop)."""

    def __init__(self, redis: Redis, settings: Settings, http: httpx.AsyncClient) -> None:
        self.redis = redis
        self.settings = settings
        self.poll = settings.poll
        self.ingestor = Ingestor(redis, settings)
        self.limiter = RateLimiter(redis)
        self.counts = metrics.Buffer(redis)  # written once a second: no round trip per poll
        self.http = http
        self.clients: dict[str, Client] = {}
        # The longest a request can be on its way (a login first, then the call): counted that long.
        self._in_flight_ms = int(2 * (self.poll.connect_timeout_s + self.poll.read_timeout_s) * 1000)

    async def close(self) -> None:
        """Write the last second's metrics; call before the event loop ends."""
        await self.counts.close()
        await self.ingestor.close()

    async def poll_many(self, due: Iterable[tuple[str, int]]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.poll.concurrency)

        async def one(shipment_id: str, due_ms: int) -> Outcome:
            async with gate:
                return await self.poll_one(shipment_id, due_ms)

        # Every poll finishes before a failure (only Redis being away gets this far) fails the job:
        # none is left running on the job's loop behind it.
        results = await asyncio.gather(*(one(sid, due_ms) for sid, due_ms in due), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, Outcome)]

    async def poll_one(self, shipment_id: str, due_ms: int | None = None) -> Outcome:
        try:
            return await self._poll(shipment_id, due_ms)
        except Exception:  # the worker outlives any single shipment's trouble
            log.exception("poll of %s failed unexpectedly; retrying later", shipment_id)
            await self._failed(shipment_id, "internal")
            return Outcome(shipment_id, "failed")

    async def _poll(self, shipment_id: str, due_ms: int | None) -> Outcome:
        now_ms = _now_ms()
        try:
            shipment = await shipments.get(self.redis, shipment_id)
        except NotFound:
            await schedule.remove(self.redis, shipment_id)
            return Outcome(shipment_id, "gone")
        provider = shipment.provider
        if not shipment.tracking:
            await schedule.remove(self.redis, shipment_id)
            return Outcome(shipment_id, "stopped")
        state = await self.redis.hgetall(keys.poll_state(shipment_id))
        heard_ms = max(shipment.state.get("last_event_ms") or 0, shipment.created_ms)
        if now_ms - heard_ms > self.poll.expire_after_s * 1000:
            await self._expire(shipment, heard_ms)
            return Outcome(shipment_id, "expired")
        if provider in PUSH_PROVIDERS and now_ms - heard_ms < self.poll.reconcile_after_s * 1000:
            # The push channel spoke recently: nothing to reconcile yet.
            await schedule.reschedule(
                self.redis, shipment_id, heard_ms + int(self.poll.reconcile_after_s * 1000)
            )
            return Outcome(shipment_id, "waiting")

        account = account_id(self.settings, provider)
        paused_ms = await accounts.paused_ms(self.redis, provider, account)
        if paused_ms:
            await schedule.reschedule(self.redis, shipment_id, now_ms + paused_ms)
            return Outcome(shipment_id, "paused")
        permit = await self.limiter.acquire(
            provider, account, self.poll.provider(provider).rate_limits, self._in_flight_ms
        )
        if permit.wait_ms:
            self.counts.add("hub_poll_throttled_total", provider=provider)
            await schedule.reschedule(self.redis, shipment_id, now_ms + permit.wait_ms)
            return Outcome(shipment_id, "throttled")

        if due_ms:
            self.counts.observe("hub_poll_lag_seconds", max(0, now_ms - due_ms) / 1000, provider=provider)
        was_terminal = shipment.terminal
        started_s = time.perf_counter()
        try:
            answer = await self._client(provider).track(shipment.provider_ref)
        except RateLimited as exc:
            await self.limiter.slow_down(provider, account, exc.retry_after_s)
            self.counts.add("hub_poll_rate_limited_total", provider=provider)
            await schedule.reschedule(self.redis, shipment_id, now_ms + int(exc.retry_after_s * 1000))
            return Outcome(shipment_id, "throttled")
        except Unauthorized as exc:
            return await self._refused(shipment_id, provider, account, exc.reason, now_ms)
        except Unavailable as exc:
            log.warning("poll of %s: %s", shipment_id, exc)
            await self._failed(shipment_id, "unavailable", provider)
            return Outcome(shipment_id, "failed")
        finally:
            self.counts.observe(
                "hub_poll_request_seconds", time.perf_counter() - started_s, provider=provider
            )
            await self.limiter.sent(permit)
        if answer.remaining is not None and answer.remaining <= 0:
            await self.limiter.slow_down(provider, account, answer.reset_s or 60.0)

        try:
            ingested = await self.ingestor.ingest_raw(  # the answer belongs to the shipment polled
                provider, answer.kind, answer.body, Channel.POLL, ref=shipment.provider_ref, shipment=shipment
            )
        except Rejected as exc:  # already in the dead-letter stream, with provider, ref and reason
            log.warning("poll of %s: answer dead-lettered (%s)", shipment_id, exc.reason)
            await self._failed(shipment_id, "unreadable", provider)
            return Outcome(shipment_id, "failed")
        except CredentialsRefused as exc:  # a 401 in all but status code (ALOD's authkey error)
            return await self._refused(shipment_id, provider, account, str(exc), now_ms)
        except ProviderError as exc:
            log.warning("poll of %s: provider reported %s", shipment_id, exc)
            await self._failed(shipment_id, "provider_error", provider)
            return Outcome(shipment_id, "failed")
        except UNAVAILABLE:
            raise
        except Exception as exc:  # the answer's own fault (a lone surrogate Redis cannot take, a bug)
            return await self._poisoned(
                shipment,
                Payload(provider, answer.kind, answer.body, Channel.POLL, ref=shipment.provider_ref),
                exc,
            )

        published = len(ingested.published)
        self.counts.add("hub_polls_total", provider=provider)
        if published:
            self.counts.add("hub_poll_events_total", published, provider=provider)
        if was_terminal:  # this was the confirming poll after the terminal status
            return await self._confirmed(shipment, state, now_ms)
        changed_ms = now_ms if published else int(state.get("changed_ms") or heard_ms)
        fresh = await shipments.get(self.redis, shipment_id) if published else shipment
        eta = fresh.state.get("eta")
        eta_ms = int(times.parse(eta, UTC).timestamp() * 1000) if eta else None
        next_s = cadence.interval_s(self.poll, provider, now_ms=now_ms, changed_ms=changed_ms, eta_ms=eta_ms)
        writes = self.redis.pipeline(transaction=False)  # one round trip for the state and the due time
        writes.hset(
            keys.poll_state(shipment_id),
            mapping={"failures": 0, "poison_failures": 0, "changed_ms": changed_ms},
        )
        schedule.reschedule_in(writes, shipment_id, now_ms + int(next_s * 1000))
        await writes.execute()
        return Outcome(shipment_id, "polled")

    async def _confirmed(self, shipment: shipments.Shipment, state: dict[str, str], now_ms: int) -> Outcome:
        """Stop polling after the confirming poll, unless the flow documents a final code still to come.

        Such a terminal code (Client API ``6``, followed by ``9`` "Delivered (Final)") is polled
        at the provider's slow final cadence until the final code arrives or the wait runs out.
        """
        config = self.poll.provider(shipment.provider)
        flow = providers.flow(shipment.provider)
        code = await self.redis.hget(keys.shipment(shipment.id), "status_code")
        since_ms = int(state.get("final_since_ms") or now_ms)
        if (
            flow
            and code is not None
            and flow.awaits_final(code)
            and now_ms - since_ms < config.final_wait_s * 1000
        ):
            writes = self.redis.pipeline(transaction=False)
            writes.hset(keys.poll_state(shipment.id), mapping={"failures": 0, "final_since_ms": since_ms})
            schedule.reschedule_in(writes, shipment.id, now_ms + int(config.final_interval_s * 1000))
            await writes.execute()
            return Outcome(shipment.id, "confirming")
        await schedule.remove(self.redis, shipment.id)
        await self.redis.hset(keys.poll_state(shipment.id), mapping={"failures": 0, "stopped_ms": now_ms})
        return Outcome(shipment.id, "stopped")

    async def _refused(
        self, shipment_id: str, provider: str, account: str, reason: str, now_ms: int
    ) -> Outcome:
        """Our credentials were refused: pause the whole account (said once), not this shipment alone."""
        pause_s = self.poll.unauthorized_pause_s
        await accounts.mark_unauthorized(self.redis, provider, account, reason, pause_s)
        self.counts.add("hub_poll_failures_total", provider=provider, reason="unauthorized")
        await schedule.reschedule(self.redis, shipment_id, now_ms + int(pause_s * 1000))
        return Outcome(shipment_id, "paused")

    async def _poisoned(self, shipment: shipments.Shipment, answer: Payload, error: Exception) -> Outcome:
        """Backed off like any failure; the answer is kept as a dead letter after too many in a row.

        The count lives in the shipment's poll state, so it survives workers; the shipment keeps
        being polled (a later answer may be fine), but never by a worker that crashes on it.
        """
        state_key = keys.poll_state(shipment.id)
        attempts = await self.redis.hincrby(state_key, "poison_failures", 1)
        log.error(
            "poll of %s: ingesting the answer failed (%d in a row)", shipment.id, attempts, exc_info=error
        )
        if attempts >= self.settings.poison_attempts_max:
            reason = f"ingesting the answer failed {attempts} polls in a row, last with {error!r}"
            await self.ingestor.reject(answer, NormalizationError(shipment.provider, reason))
            await self.redis.hset(state_key, "poison_failures", 0)
            self.counts.add("hub_poison_deadlettered_total", consumer="poller")
        await self._failed(shipment.id, "poison", shipment.provider)
        return Outcome(shipment.id, "failed")

    async def _failed(self, shipment_id: str, reason: str, provider: str = "") -> None:
        failures = await self.redis.hincrby(keys.poll_state(shipment_id), "failures", 1)
        self.counts.add("hub_poll_failures_total", provider=provider, reason=reason)
        wait_s = backoff.delay_s(failures, self.poll.backoff_base_s, self.poll.backoff_max_s)
        await schedule.reschedule(self.redis, shipment_id, _now_ms() + int(wait_s * 1000))

    async def _expire(self, shipment: shipments.Shipment, heard_ms: int) -> None:
        days = self.poll.expire_after_s / 86400
        observation = Observation(
            type=EventType.STATUS_CHANGED,
            provider=shipment.provider,
            provider_ref=shipment.provider_ref,
            time=datetime.now(UTC),
            status=Status.EXPIRED,
            provider_status=ProviderStatus(
                EXPIRED_CODE, f"no news from {shipment.provider} for {days:g} days"
            ),
        )
        await self.ingestor.ingest([observation], Channel.POLL, shipment=shipment)
        await schedule.remove(self.redis, shipment.id)
        self.counts.add("hub_poll_expired_total", provider=shipment.provider)
        log.info("shipment %s expired: no news since %d ms", shipment.id, heard_ms)

    def _client(self, provider: str) -> Client:
        if provider not in self.clients:
            self.clients[provider] = build(provider, self.settings, self.http, self.redis)
        return self.clients[provider]


def _now_ms() -> int:
    return int(time.time() * 1000)
