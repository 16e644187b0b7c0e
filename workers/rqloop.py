"""RQ's work loop, kept going through Redis outages.

RQ ends its work loop on any exception outside a job (a heartbeat, a dequeue, recording a
job's end) and returns as if it were done, so a Redis restart made ``hub worker`` exit 0
and a supervisor with ``Restart=on-failure`` left it down. Here the loop is run again
once Redis answers (waiting with backoff for as long as it takes); an exception that is
not about reaching Redis is raised, so the process exits non-zero and is restarted.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from rq import SimpleWorker, worker_registration
from rq.exceptions import StopRequested

from hub.errors import HubError
from workers.backoff import delay_s

log = logging.getLogger(__name__)

RECONNECT_BASE_S = 0.2
RECONNECT_MAX_S = 5.0
PING_TIMEOUT_S = 2.0
LOST_REDIS = (RedisError, OSError)


class WorkerFailed(HubError):
    """RQ's work loop stopped on an error that reconnecting cannot mend."""


class RecordingWorker(SimpleWorker):  # type: ignore[misc]
    """A ``SimpleWorker`` that remembers the exception that ended its work loop (RQ only logs it)."""

    failure: BaseException | None = None

    def _recorded(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StopRequested:
            raise
        except BaseException as exc:
            self.failure = exc
            raise

    def execute_job(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorded(super().execute_job, *args, **kwargs)

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorded(super().dequeue_job_and_maintain_ttl, *args, **kwargs)

    def heartbeat(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorded(super().heartbeat, *args, **kwargs)

    def run_maintenance_tasks(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorded(super().run_maintenance_tasks, *args, **kwargs)

    def check_for_suspension(self, *args: Any, **kwargs: Any) -> Any:
        return self._recorded(super().check_for_suspension, *args, **kwargs)

    @property
    def stop_requested(self) -> bool:
        """A SIGTERM/SIGINT reached RQ's handler (it notes the date before anything else)."""
        return self._shutdown_requested_date is not None or bool(self._stop_requested)


def work(
    make_worker: Callable[[], RecordingWorker],
    connection: SyncRedis,
    *,
    burst: bool = False,
    healthy: Callable[[], None] = lambda: None,
) -> bool:
    """Run RQ's loop until a stop signal (or, with ``burst``, an empty queue); True if a job ran.

    ``healthy`` is called after each round and raises if the process can no longer work.
    """
    stopping = threading.Event()
    worked = False
    failures = 0
    while True:
        try:
            worker = make_worker()  # RQ asks Redis for the client's address here
        except LOST_REDIS as exc:
            log.warning("worker cannot reach Redis (%s); waiting for it", exc)
            with _stop_on_signal(stopping):
                failures = _wait_for_redis(connection, stopping, failures + 1)
            if stopping.is_set():
                return worked
            continue
        try:
            worked = bool(worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")) or worked
        except LOST_REDIS as exc:  # registering its birth or death, with Redis gone
            worker.failure = worker.failure or exc
        healthy()
        if worker.stop_requested:
            return worked
        if worker.failure is None:
            if burst:
                return worked
            raise WorkerFailed("RQ's work loop ended without a stop signal or an error")
        if not isinstance(worker.failure, LOST_REDIS):
            raise WorkerFailed(f"RQ's work loop failed: {worker.failure!r}") from worker.failure
        log.warning("worker lost Redis (%s); waiting for it to come back", worker.failure)
        with _stop_on_signal(stopping):
            failures = _wait_for_redis(connection, stopping, failures)
        if stopping.is_set():
            return worked
        _forget_registration(connection, worker)
        log.warning("worker: Redis is back, resuming work")


def _wait_for_redis(connection: SyncRedis, stopping: threading.Event, failures: int) -> int:
    """Ping with backoff until Redis answers or a stop signal comes; returns the failures seen."""
    while not stopping.is_set():
        try:
            connection.ping()
            return 0
        except LOST_REDIS:
            failures += 1
            stopping.wait(delay_s(failures, RECONNECT_BASE_S, RECONNECT_MAX_S))
    return failures


def _forget_registration(connection: SyncRedis, worker: RecordingWorker) -> None:
    """The old loop could not record its death: mark it, so the same name can register again."""
    try:
        worker_registration.unregister(worker)
        connection.delete(worker.key)
    except LOST_REDIS as exc:  # gone again: the next round finds out
        log.warning("worker: could not clear its old registration: %s", exc)


@contextmanager
def _stop_on_signal(stopping: threading.Event) -> Iterator[None]:
    """While waiting between rounds, SIGTERM/SIGINT stop the wait (RQ's handlers are not installed)."""
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
