"""``hub worker``'s side of webhook delivery: the resident engine beside RQ's work loop.

Deliveries are not one RQ job each: at a thousand a second the per-job cost of RQ would
dominate, and a job per request cannot keep many requests in flight. Instead each worker
process runs one :class:`~hub.webhooks.engine.DeliveryEngine` on its own event loop in a
thread (connection pools and in-flight requests outlive any job), woken by the dispatcher
through Redis (:mod:`hub.webhooks.wake`), while RQ's loop (:mod:`workers.rqloop`, which keeps
it going through Redis outages) runs the poll jobs.
"""

from __future__ import annotations

import _thread
import asyncio
import logging
import threading
from collections.abc import Sequence

import uvloop
from redis import Redis as SyncRedis
from rq import Queue

from hub.errors import ConfigError
from hub.infra import runtime
from hub.settings import Settings
from hub.webhooks.engine import DeliveryEngine, engine_redis
from workers import rqloop
from workers.rqloop import WorkerFailed

log = logging.getLogger(__name__)

_resident: EngineThread | None = None


class EngineThread:
    """A delivery engine on its own event loop in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # uvloop, as every other hub process: on asyncio's own loop the engine's sockets (HTTP and
        # Redis) cost about a third more CPU per delivery (bench/pipeline.py, docs/benchmarks.md).
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="delivery-engine", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._engine: DeliveryEngine | None = None

    def start(self) -> EngineThread:
        self.thread.start()
        self._ready.wait(timeout=30)
        return self

    def stop(self, timeout_s: float = 30) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=timeout_s)

    @property
    def failed(self) -> bool:
        """The engine stopped without being asked to (a bug, not Redis: it outlives Redis outages)."""
        return not self.thread.is_alive() and not (self._stop is not None and self._stop.is_set())

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException:
            log.exception("delivery engine failed; stopping the worker so its supervisor restarts it")
            _thread.interrupt_main()  # RQ's loop ends; serve() then exits non-zero
            raise
        finally:
            self.loop.close()

    async def _main(self) -> None:
        redis = engine_redis(self.settings)
        self._stop = asyncio.Event()
        self._engine = DeliveryEngine(redis, self.settings)
        self._ready.set()
        try:
            await self._engine.run(self._stop)
        finally:
            await redis.aclose()


def serve(
    settings: Settings, queues: Sequence[str] = (), burst: bool = False, name: str | None = None
) -> bool:
    """Run the resident delivery engine beside an RQ SimpleWorker on ``queues``."""
    global _resident
    if not settings.queue_redis_url:
        raise ConfigError("the worker needs HUB_REDIS_URL (or HUB_QUEUE_REDIS_URL)")
    connection = SyncRedis.from_url(settings.queue_redis_url)
    _resident = EngineThread(settings).start()
    resident = _resident
    runtime.settle_after_startup()  # the collector as in every hub process: fewer, cheaper collections

    def healthy() -> None:
        if resident.failed:
            raise WorkerFailed("the delivery engine stopped; see the log above")

    def make_worker() -> rqloop.RecordingWorker:
        return rqloop.RecordingWorker(
            [Queue(queue, connection=connection) for queue in queues], connection=connection, name=name
        )

    try:
        return rqloop.work(make_worker, connection, burst=burst, healthy=healthy)
    finally:
        _resident.stop()
        _resident = None
        connection.close()
