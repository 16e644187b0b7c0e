"""``hub worker``: one RQ worker for both polls and merchant webhook deliveries.

It does not fork (an RQ ``SimpleWorker``): deliveries run on a resident async engine that
outlives jobs (:mod:`workers.deliveries`), and poll batches share a resident poll runtime
(:mod:`workers.jobs`), so connections to Redis and to providers outlive any single batch.
"""

from __future__ import annotations

import argparse
import logging

from hub.settings import Settings
from workers import delivery_worker as deliveries
from workers import jobs


def run(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    with jobs.resident(settings):
        return deliveries.serve(settings, [settings.poll.queue], burst=burst, name=name)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub worker``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(settings, burst=args.burst, name=args.name)
    return 0
