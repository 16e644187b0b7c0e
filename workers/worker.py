"""``hub worker``: one RQ worker for both polls and merchant webhook deliveries.

It does not fork (an RQ ``SimpleWorker``): deliveries run on a resident async engine that
outlives jobs (:mod:`workers.deliveries`), and poll batches share a resident poll runtime
(:mod:`workers.jobs`), so connections to Redis and to providers outlive any single batch.
"""

from __future__ import annotations

from hub.settings import Settings
from workers import delivery_worker as deliveries
from workers import jobs


def run(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    with jobs.resident(settings):
        return deliveries.serve(settings, [settings.poll.queue], burst=burst, name=name)
