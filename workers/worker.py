"""``hub worker``: a plain RQ worker on the poll queue."""

from __future__ import annotations

from rq import Queue, Worker

from hub.settings import Settings
from workers.scheduler import connection


def run(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    redis = connection(settings)
    worker = Worker([Queue(settings.poll.queue, connection=redis)], connection=redis, name=name)
    return bool(worker.work(burst=burst, with_scheduler=False, logging_level="WARNING"))
