"""The ``hub worker`` and ``hub scheduler`` commands."""

from __future__ import annotations

import argparse
import logging
import signal

from hub.settings import Settings
from workers import worker as rq_worker
from workers.scheduler import Scheduler, connection, data_connection


def worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rq_worker.run(Settings.from_env(), burst=args.burst, name=args.name)
    return 0


def scheduler(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    redis, data = connection(settings), data_connection(settings)
    running = Scheduler(settings, redis, data)
    signal.signal(signal.SIGTERM, lambda *_: running.stopping.set())
    try:
        running.run()
    finally:
        redis.close()
        data.close()
    return 0
