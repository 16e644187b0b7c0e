"""RQ jobs the Redis-restart tests enqueue (importable by a ``hub worker`` subprocess)."""

from __future__ import annotations

import contextlib

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import get_current_job

MARK_KEY = "hub:test:job-ran"


def shut_redis_down() -> None:
    """Stop the server in the middle of the job: RQ then fails to record the job's end."""
    job = get_current_job()
    assert job is not None
    with contextlib.suppress(RedisConnectionError):
        job.connection.shutdown()


def mark(value: str) -> None:
    job = get_current_job()
    assert job is not None
    job.connection.set(MARK_KEY, value)
