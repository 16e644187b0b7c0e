"""The delivery engine: claims due deliveries and keeps many requests in flight at once.

One engine per worker process, on its own event loop. It claims what is due (within
each endpoint's throttle), sends each claimed delivery in its own task, and sleeps until
the next delivery is due, a wake-up (:meth:`wake`, from an RQ job or a finished
delivery) or the poll interval, whichever is first. A slow endpoint only ever holds its
own in-flight slots, so it cannot delay anybody else's deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import ConfigError
from hub.infra import metrics
from hub.infra.redis_clients import waiting_client
from hub.ingest import poison
from hub.settings import Settings
from hub.webhooks import endpoints, guard, notices, sender, wake
from hub.webhooks.delivery import Delivery, DeliveryStatus, now_ms, parse
from hub.webhooks.endpoints import Endpoint, EndpointCache, State
from hub.webhooks.queue import Deliveries
from hub.webhooks.retry import next_wait_s
from hub.webhooks.signing import SecretBox

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0  # look for due deliveries at least this often, woken or not
CLAIM_BATCH = 200
PAUSED_RECHECK_MS = 5_000  # a paused endpoint's deliveries are looked at again this much later
ERROR_BACKOFF_S = 1.0
MIN_SLEEP_S = 0.005
REDIS_CONNECTIONS = 64
CLAIM_LINGER_S = 0.01  # woken, claim this much later: one claim per 10 ms, not one per finished delivery
POISON_RETRY_S = 5.0  # a delivery that failed on its data is tried again after this, times its failures


def engine_redis(settings: Settings) -> Any:
    """Many deliveries share one pool: they wait for a connection rather than fail."""
    if not settings.redis_url:
        raise ConfigError("the delivery worker needs HUB_REDIS_URL")
    return waiting_client(settings, REDIS_CONNECTIONS)


class DeliveryEngine:
    def __init__(self, redis: Redis, settings: Settings, rng: random.Random | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.deliveries = Deliveries(redis, settings.webhook.retention_s)
        self.endpoints = EndpointCache(redis)
        self.box = SecretBox(tuple(key.reveal() for key in settings.webhook.master_keys))
        self.allowed = guard.allowlist(settings)
        self.rng = rng or random.Random()
        self.clients = sender.Clients(settings, self.allowed)
        self._wake = asyncio.Event()
        self._next_due_ms: int | None = None
        self._more = False  # the last claim was full: claim again at once
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: dict[str, asyncio.Task[None]] = {}  # member -> its task, while it runs
        self.metrics = metrics.Buffer(redis)  # counted in memory, written once a second

    def wake(self) -> None:
        """Look for due deliveries now (call on the engine's loop)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then let in-flight requests finish (bounded by their timeout)."""
        waiting = asyncio.create_task(wake.listen(self.redis, self.wake, stop, POLL_INTERVAL_S))
        try:
            while not stop.is_set():
                try:
                    await self._claim_and_start()
                    await self._sleep(stop)
                except (RedisError, OSError) as exc:
                    log.warning("delivery engine: Redis error, retrying in %s s: %s", ERROR_BACKOFF_S, exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), ERROR_BACKOFF_S)
                except Exception:  # a claim that fails on data must not stop every other delivery
                    log.exception("delivery engine: claim failed, retrying in %s s", ERROR_BACKOFF_S)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), ERROR_BACKOFF_S)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.settings.webhook.total_timeout_s + 1)
        finally:
            waiting.cancel()
            await self.clients.aclose()
            await self.metrics.close()

    async def _claim_and_start(self) -> int:
        self._wake.clear()
        free = self.settings.webhook.worker_concurrency - len(self._tasks)
        if free <= 0:
            return 0
        claimed, self._next_due_ms = await self.deliveries.claim(
            min(free, CLAIM_BATCH),
            self.settings.webhook.lease_s,
            self.settings.webhook.max_in_flight,
            self.settings.webhook.max_per_s,
        )
        if not claimed:
            return 0
        # Still being sent (or its outcome still being written) here: its lease ran out while Redis
        # was away, and sending it again would deliver it twice. The claim renewed the lease.
        fresh = [member for member in claimed if member not in self._sending]
        by_id = await self.endpoints.refresh()
        await self.clients.retain(set(by_id))
        pairs = [(endpoint_id, ident) for endpoint_id, _, ident in (m.partition("/") for m in fresh)]
        for member, raw in zip(fresh, await self.deliveries.get_many_raw(pairs), strict=True):
            if not raw:  # expired, or gone with its endpoint
                await self.deliveries.forget(member)
                continue
            try:
                delivery = parse(raw)
            except (KeyError, TypeError, ValueError) as exc:  # not written by this queue's scripts
                await self._unreadable(member, raw, exc)
                continue
            task = asyncio.create_task(self._isolated(delivery, by_id.get(delivery.endpoint_id)))
            self._tasks.add(task)
            self._sending[member] = task
            task.add_done_callback(functools.partial(self._done, member=member))
        if len(claimed) == min(free, CLAIM_BATCH):
            self._more = True  # there may be more due right now: claim again at once
            self._wake.set()
        return len(claimed)

    def _done(self, task: asyncio.Task[None], *, member: str) -> None:
        self._tasks.discard(task)
        self._sending.pop(member, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())
        # A lane may have moved on: claim again, but when busy only once a quarter of the
        # slots are free, so claims come in batches rather than one round trip per delivery.
        concurrency = self.settings.webhook.worker_concurrency
        if concurrency - len(self._tasks) >= max(1, concurrency // 4):
            self._wake.set()

    async def _sleep(self, stop: asyncio.Event) -> None:
        if not self._wake.is_set():
            timeout_s = POLL_INTERVAL_S
            if len(self._tasks) < self.settings.webhook.worker_concurrency and self._next_due_ms is not None:
                # As the last claim saw it; what others queue since comes with a wake-up or the poll.
                timeout_s = min(timeout_s, max(MIN_SLEEP_S, (self._next_due_ms - now_ms()) / 1000))
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stopper, waker}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                waker.cancel()
        if self._wake.is_set() and not stop.is_set():
            more, self._more = self._more, False
            await asyncio.sleep(0 if more else CLAIM_LINGER_S)  # let tasks run, then claim again

    async def _isolated(self, delivery: Delivery, endpoint: Endpoint | None) -> None:
        """One delivery, its errors kept to itself: a Redis outage leaves it leased (it comes back
        when the lease runs out); any other error is an attempt, and after
        ``poison_attempts_max`` of them the delivery fails for good and is dead-lettered."""
        try:
            await self._deliver(delivery, endpoint)
        except Exception as exc:
            if poison.is_outage(exc):
                log.warning("delivery %s: Redis unavailable, retried after its lease: %s", delivery.id, exc)
                return
            await self._poisoned(delivery, exc)

    async def _poisoned(self, delivery: Delivery, exc: BaseException) -> None:
        reason = f"delivery {delivery.id}: {poison.describe(exc)}"
        failures = await self.deliveries.count_poison(delivery)
        if failures == 0:
            return  # gone meanwhile (expired, or its endpoint deleted)
        limit = self.settings.poison_attempts_max
        if failures < limit:
            log.warning("%s (attempt %d of %d)", reason, failures, limit)
            retry_at = now_ms() + int(POISON_RETRY_S * 1000 * failures)
            await self.deliveries.finish(delivery, retry_at_ms=retry_at, last_error=reason[:500])
            return
        await poison.give_up(
            self.redis,
            source="delivery-engine",
            kind="delivery",
            reason=reason,
            body=poison.as_bytes(delivery.event),
            merchant_id=delivery.merchant_id,
        )
        await self._give_up(delivery, f"dead-lettered: {reason[:500]}", None)
        self.metrics.add("hub_poison_deadlettered_total", consumer="delivery-engine")

    async def _unreadable(self, member: str, raw: dict[str, str], exc: BaseException) -> None:
        """A delivery hash this queue cannot read: kept as a dead letter and taken off the queue."""
        reason = f"delivery {member} unreadable: {poison.describe(exc)}"
        body = poison.as_bytes(json.dumps(raw, ensure_ascii=False))
        await poison.give_up(self.redis, source="delivery-engine", kind="delivery", reason=reason, body=body)
        await self.deliveries.forget(member, lane=raw.get("lane") or "")  # the lane moves on past it

    async def _deliver(self, delivery: Delivery, endpoint: Endpoint | None) -> None:
        if endpoint is None:
            await self.deliveries.finish(delivery, retry_at_ms=None, status=DeliveryStatus.CANCELLED.value)
            self.metrics.add("hub_webhook_deliveries_total", outcome=DeliveryStatus.CANCELLED.value)
            return
        if endpoint.state is State.PAUSED:
            await self.deliveries.finish(delivery, retry_at_ms=now_ms() + PAUSED_RECHECK_MS)
            return
        if endpoint.state is State.DISABLED:
            await self._give_up(delivery, "endpoint disabled", None)
            return
        attempt = await sender.send(
            self.clients.get(endpoint.id),
            self.settings,
            self.allowed,
            endpoint.url,
            delivery.id,
            delivery.event,
            endpoint.live_secrets(self.box, now_ms()),
        )
        await self._record(endpoint, delivery, attempt)

    async def _record(self, endpoint: Endpoint, delivery: Delivery, attempt: sender.Attempt) -> None:
        number = delivery.attempts + 1
        common: dict[str, Any] = {"attempts": number, "last_error": attempt.error or ""}
        if attempt.status is not None:
            common["last_status"] = attempt.status
        record = {"attempt": number, **attempt.to_json()}
        outcome = "succeeded" if attempt.ok else "refused" if attempt.unsafe else "failed"
        self.metrics.add("hub_webhook_attempts_total", outcome=outcome)
        if attempt.ok:
            await self.deliveries.finish(
                delivery,
                retry_at_ms=None,
                attempt=record,
                status=DeliveryStatus.SUCCEEDED.value,
                completed_ms=now_ms(),
                **common,
            )
            self.metrics.add("hub_webhook_deliveries_total", outcome=DeliveryStatus.SUCCEEDED.value)
            self.metrics.observe(
                "hub_webhook_delivery_delay_seconds", (now_ms() - delivery.created_ms) / 1000
            )
            if endpoint.failing_since_ms is not None:
                await endpoints.set_failing_since(self.redis, endpoint.id, None)
            return
        if attempt.status == 410:
            await self._disable(endpoint, "the endpoint answered 410 Gone")
            await self._give_up(delivery, "410 Gone: endpoint disabled", record, **common)
            return
        if attempt.unsafe:  # the guard refused the address: a retry would be refused too
            await self._give_up(delivery, attempt.error or "refused", record, **common)
            await self._note_failure(endpoint)
            return
        wait_s = next_wait_s(number - delivery.cycle_start, attempt.failure, self.settings, self.rng)
        if wait_s is None:
            await self._give_up(delivery, attempt.error or "failed", record, **common)
        else:
            retry_at = now_ms() + int(wait_s * 1000)
            await self.deliveries.finish(
                delivery, retry_at_ms=retry_at, attempt=record, next_attempt_ms=retry_at, **common
            )
        await self._note_failure(endpoint)

    async def _give_up(
        self, delivery: Delivery, reason: str, record: dict[str, Any] | None, **fields: Any
    ) -> None:
        await self.deliveries.finish(
            delivery,
            retry_at_ms=None,
            attempt=record,
            status=DeliveryStatus.FAILED.value,
            completed_ms=now_ms(),
            **{"last_error": reason, **{k: v for k, v in fields.items() if k != "last_error"}},
        )
        self.metrics.add("hub_webhook_deliveries_total", outcome=DeliveryStatus.FAILED.value)

    async def _note_failure(self, endpoint: Endpoint) -> None:
        """Start the failure streak, or disable the endpoint once it has lasted the configured window."""
        if endpoint.failing_since_ms is None:
            await endpoints.set_failing_since(self.redis, endpoint.id, now_ms())
            return
        failing_s = (now_ms() - endpoint.failing_since_ms) / 1000
        if failing_s >= self.settings.webhook.disable_after_s:
            await self._disable(endpoint, f"failing continuously for {int(failing_s)} s")

    async def _disable(self, endpoint: Endpoint, reason: str) -> None:
        if not await endpoints.disable(self.redis, endpoint.id, reason):
            return  # somebody else already did, and told the merchant
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
        await metrics.inc(self.redis, "hub_webhook_endpoints_disabled_total")
        disabled = await endpoints.get(self.redis, endpoint.id)
        event = notices.endpoint_disabled(disabled, reason, disabled.disabled_ms or now_ms())
        others = await endpoints.listing(self.redis, endpoint.merchant_id)
        if await notices.tell_merchant(self.deliveries, disabled, others, event):
            self.wake()
