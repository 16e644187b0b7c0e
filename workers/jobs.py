"""RQ job functions, and the poll runtime a worker keeps between them.

``hub worker`` runs jobs in its own process (an RQ ``SimpleWorker``), so it keeps one
:class:`PollRuntime` open for its whole life: one event loop, one Redis pool and one HTTP
pool that every batch reuses. Opening them per job cost more than the polls themselves
(a fresh Redis and HTTP connection for every shipment of every batch). A forking RQ worker
has no resident runtime: each job opens its own and closes it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from redis.asyncio import Redis

from hub.clients import http_client
from hub.errors import ConfigError
from hub.settings import Settings
from hub.streams.delays import DelayChecker
from workers.poll import Poller
from workers.reconcile import BulkReconciler

_resident: PollRuntime | None = None


def poll_batch(due: list[tuple[str, int]]) -> dict[str, int]:
    """RQ job: poll ``(shipment_id, due_ms)`` pairs; returns how many ended which way."""
    if _resident is not None:
        return _resident.poll(due)
    with PollRuntime(Settings.from_env()) as runtime:
        return runtime.poll(due)


def check_delays(shipment_ids: list[str]) -> dict[str, int]:
    """RQ job: publish ``shipment.delayed`` for those of ``shipment_ids`` late now (hub/streams/delays.py)."""
    if _resident is not None:
        return _resident.check_delays(shipment_ids)
    with PollRuntime(Settings.from_env()) as runtime:
        return runtime.check_delays(shipment_ids)


def reconcile_hld() -> dict[str, int]:
    """RQ job: one bulk reconciliation round over HLD's order list (:mod:`workers.reconcile`)."""
    if _resident is not None:
        return _resident.reconcile_hld()
    with PollRuntime(Settings.from_env()) as runtime:
        return runtime.reconcile_hld()


@contextmanager
def resident(settings: Settings) -> Iterator[PollRuntime]:
    """Every poll job this process runs meanwhile shares one runtime."""
    global _resident
    with PollRuntime(settings) as _resident:
        try:
            yield _resident
        finally:
            _resident = None


class PollRuntime:
    """An event loop with one Redis pool, one HTTP pool and one poller, reused by every batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = asyncio.Runner()
        self.poller: Poller | None = None

    def __enter__(self) -> PollRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.poller is not None:
                self.runner.run(self._close(self.poller))
        finally:
            self.runner.close()

    def poll(self, due: list[tuple[str, int]]) -> dict[str, int]:
        return self.runner.run(self._poll([(str(s), int(d)) for s, d in due]))

    def check_delays(self, shipment_ids: list[str]) -> dict[str, int]:
        return self.runner.run(self._check_delays([str(s) for s in shipment_ids]))

    async def _check_delays(self, shipment_ids: list[str]) -> dict[str, int]:
        if self.poller is None:
            self.poller = self._open()
        checker = DelayChecker(self.poller.redis, self.settings, self.poller.ingestor.store)
        checked = await checker.check_many(shipment_ids, datetime.now(UTC))
        return dict(Counter(c.result for c in checked))

    def reconcile_hld(self) -> dict[str, int]:
        return self.runner.run(self._reconcile_hld())

    async def _reconcile_hld(self) -> dict[str, int]:
        if self.poller is None:
            self.poller = self._open()
        reconciler = BulkReconciler(self.poller.redis, self.settings, self.poller.http, self.poller.ingestor)
        report = await reconciler.run()
        return {"pages": report.pages, "confirmed": report.confirmed, "fetched": report.fetched}

    async def _poll(self, due: list[tuple[str, int]]) -> dict[str, int]:
        if self.poller is None:  # opened on the runtime's own loop, on first use
            self.poller = self._open()
        outcomes = await self.poller.poll_many(due)
        return dict(Counter(outcome.result for outcome in outcomes))

    def _open(self) -> Poller:
        if not self.settings.redis_url:
            raise ConfigError("HUB_REDIS_URL is not set: the worker cannot reach the due-time index")
        concurrency = self.settings.poll.concurrency
        # Every concurrent poll may hold a connection (plus metrics and group commits): size the pool to fit.
        redis = Redis.from_url(
            str(self.settings.redis_url), decode_responses=True, max_connections=2 * concurrency
        )
        return Poller(redis, self.settings, http_client(self.settings, concurrency))

    @staticmethod
    async def _close(poller: Poller) -> None:
        try:
            await poller.close()
            await poller.http.aclose()
        finally:
            await poller.redis.aclose()
