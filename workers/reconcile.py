"""Reconciling HLD shipments from its order list: a page of orders per call, not one call each.

HLD pushes over Pusher and is polled only to reconcile (after ``HUB_POLL_RECONCILE_AFTER_S``
of silence), one tracking call per shipment. Its order list answers for up to
``HUB_HLD_BULK_PER_PAGE`` orders at once, so a round reads pages (newest first) and, for
every active shipment it finds (by HLD order id, learned from tracking and Pusher payloads):

- **confirmed**: the list's status word maps (through the same table as the codes) to the
  code the shipment is in: nothing was missed, and its single reconciling poll is deferred;
- **behind**: the list shows a status earlier in HLD's flow than the hub already has (the
  list lags Pusher): nothing to do, and never a step backwards;
- **fetched**: the list shows another status: a change was missed, so HLD's tracking is
  asked about that order alone. Its answer dates every status, goes through the same
  normalizer as any poll and so gets the same event ids: what Pusher or a poll already
  delivered is a duplicate, and the store never moves a status backwards.

A row is never an event itself: it dates only the order's creation, not its status.
Shipments the list does not show (order id not yet known, beyond the pages read) keep
their single polls. Paging stops at the last page, after ``HUB_HLD_BULK_MAX_PAGES``, when
every active shipment was found, or at orders created well before the oldest active one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from hub import keys
from hub.clients import ClientError, Unauthorized, account_id, accounts
from hub.clients.hld import HldClient
from hub.errors import HubError, NormalizationError
from hub.infra import metrics
from hub.ingest.pipeline import Ingestor
from hub.model import times
from hub.model.observation import Channel
from hub.providers import hld_orders
from hub.registry import shipments
from hub.settings import Settings
from workers import schedule

log = logging.getLogger(__name__)

PROVIDER = "hld"
# HLD's flow (1 -> 13 -> 2 -> 24 -> 3 -> 25 -> 4 or 9 -> 11; 17 / 7 cancel). 10 (executive
# rejected, reassigning) has no place in it: a list showing it is always checked.
FLOW_RANK = {"1": 0, "13": 1, "2": 2, "24": 3, "3": 4, "25": 5, "4": 6, "9": 6, "11": 7, "17": 8, "7": 8}
# An order is registered with the hub after HLD created it; rows older than the oldest active
# shipment by more than this cannot be one of ours.
CREATED_SLACK = timedelta(days=1)


@dataclass
class BulkReport:
    pages: int = 0
    rows: int = 0
    confirmed: int = 0
    behind: int = 0
    fetched: int = 0
    unknown: int = 0
    published: int = 0
    active: int = 0
    seen: set[str] = field(default_factory=set)

    @property
    def calls(self) -> int:
        """Calls to HLD this round made: the pages plus the single tracking calls."""
        return self.pages + self.fetched


class BulkReconciler:
    def __init__(self, redis: Redis, settings: Settings, http: httpx.AsyncClient, ingestor: Ingestor) -> None:
        self.redis = redis
        self.settings = settings
        self.client = HldClient(settings, http, redis)
        self.ingestor = ingestor
        self.tz = times.zone(settings.provider(PROVIDER).timezone)

    async def run(self, now: datetime | None = None) -> BulkReport:
        """One round over the order list; HLD's failures end the round (single polls go on)."""
        now = now or datetime.now(UTC)
        report = BulkReport()
        active: dict[str, str] = await self.redis.hgetall(keys.active(PROVIDER))
        report.active = len(active)
        if not active:
            return report
        oldest = await self._oldest_created(list(active))
        try:
            await self._pages(active, oldest - CREATED_SLACK, now, report)
        except Unauthorized as exc:
            account = account_id(self.settings, PROVIDER)
            await accounts.mark_unauthorized(
                self.redis, PROVIDER, account, exc.reason, self.settings.poll.unauthorized_pause_s
            )
        except (ClientError, HubError) as exc:
            log.warning("HLD bulk reconciliation stopped after %d pages: %s", report.pages, exc)
        await metrics.inc(self.redis, "hub_poll_bulk_pages_total", report.pages, provider=PROVIDER)
        await metrics.inc(
            self.redis, "hub_poll_bulk_saved_total", report.confirmed + report.behind, provider=PROVIDER
        )
        return report

    async def _pages(
        self, active: dict[str, str], cutoff: datetime, now: datetime, report: BulkReport
    ) -> None:
        per_page = self.settings.hld_bulk.per_page
        for page_number in range(1, self.settings.hld_bulk.max_pages + 1):
            answer = await self.client.orders(page_number, per_page)
            report.pages += 1
            try:
                page = hld_orders.parse(answer.body, self.tz)
            except NormalizationError as exc:
                raise HubError(f"order list page {page_number} unreadable: {exc.reason}") from None
            report.rows += len(page.rows)
            await self._reconcile_page(page.rows, active, now, report)
            if (
                page.page >= page.last_page
                or report.seen >= set(active)
                or not page.rows
                or page.rows[-1].created_at < cutoff
            ):
                return

    async def _reconcile_page(
        self, rows: list[hld_orders.OrderRow], active: dict[str, str], now: datetime, report: BulkReport
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for row in rows:
            pipe.get(keys.provider_alias(PROVIDER, "order_id", row.order_id))
        found = [(row, sid) for row, sid in zip(rows, await pipe.execute(), strict=True) if sid in active]
        pipe = self.redis.pipeline(transaction=False)
        for _, shipment_id in found:
            pipe.hmget(keys.shipment(shipment_id), ["status_code", "last_event_ms", "created_ms"])
        states = await pipe.execute()
        codes = [code for code, _, _ in states]
        # No news for HUB_POLL_EXPIRE_AFTER_S: leave its single poll due, which expires it.
        expiring = {
            sid
            for (_, sid), (_, heard, created) in zip(found, states, strict=True)
            if now.timestamp() * 1000 - max(int(heard or 0), int(created or 0))
            > self.settings.poll.expire_after_s * 1000
        }
        next_ms = int((now.timestamp() + self.settings.poll.reconcile_after_s) * 1000)
        settled, to_fetch = [], []
        for (row, shipment_id), hub_code in zip(found, codes, strict=True):
            report.seen.add(shipment_id)
            verdict = _verdict(row.code, hub_code)
            if verdict == "unknown":  # counted like an unknown code; the single poll will tell
                report.unknown += 1
                await self.redis.hincrby(keys.unknown_codes(), f"{PROVIDER}:{row.status_text[:64]}", 1)
            elif verdict == "fetch":
                to_fetch.append(shipment_id)
            else:
                report.confirmed += verdict == "confirmed"
                report.behind += verdict == "behind"
                settled.append(shipment_id)
        gate = asyncio.Semaphore(self.settings.poll.concurrency)

        async def fetch(shipment_id: str) -> int:
            async with gate:
                return await self._fetch(shipment_id, active[shipment_id])

        outcomes = await asyncio.gather(*(fetch(sid) for sid in to_fetch), return_exceptions=True)
        report.fetched += len(to_fetch)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        report.published += sum(o for o in outcomes if isinstance(o, int))
        settled += [sid for sid, o in zip(to_fetch, outcomes, strict=True) if isinstance(o, int)]
        defer = self.redis.pipeline(transaction=False)
        settled = [sid for sid in settled if sid not in expiring]
        for shipment_id in settled:  # a failed fetch keeps its single poll due
            schedule.reschedule_in(defer, shipment_id, next_ms)
        if settled:
            await defer.execute()
        if failures:
            raise failures[0]

    async def _fetch(self, shipment_id: str, token: str) -> int:
        """HLD's tracking for one order whose list status differs: the same path as a poll."""
        answer = await self.client.track(token)
        try:
            ingested = await self.ingestor.ingest_raw(
                PROVIDER, answer.kind, answer.body, Channel.POLL, ref=token
            )
        except NormalizationError as exc:  # dead-lettered with the reason; the single poll retries
            log.warning("HLD tracking for %s after the order list: %s", token, exc.reason)
            return 0
        if ingested.published and (await shipments.get(self.redis, shipment_id)).terminal:
            await shipments.finished(self.redis, shipment_id, PROVIDER, token)  # Pusher stops listening
        return len(ingested.published)

    async def _oldest_created(self, shipment_ids: list[str]) -> datetime:
        pipe = self.redis.pipeline(transaction=False)
        for shipment_id in shipment_ids:
            pipe.hget(keys.shipment(shipment_id), "created_ms")
        created = [int(ms) for ms in await pipe.execute() if ms]
        return datetime.fromtimestamp(min(created) / 1000, UTC) if created else datetime.now(UTC)


def _verdict(list_code: str | None, hub_code: str | None) -> str:
    """What the list's status says next to the hub's: confirmed, behind, fetch or unknown."""
    if list_code is None:
        return "unknown"
    if list_code == hub_code:
        return "confirmed"
    listed, known = FLOW_RANK.get(list_code), FLOW_RANK.get(hub_code or "")
    if listed is not None and known is not None and listed < known:
        return "behind"
    return "fetch"
