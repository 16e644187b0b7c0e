"""``hub worker``: one RQ worker for both polls and merchant webhook deliveries.

It does not fork (an RQ ``SimpleWorker``): deliveries run on a resident async engine that
outlives jobs (:mod:`workers.deliveries`), and each poll batch runs its own event loop.
"""

from __future__ import annotations

from hub.settings import Settings
from workers import deliveries


def run(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    return deliveries.serve(settings, [settings.poll.queue], burst=burst, name=name)
