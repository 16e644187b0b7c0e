"""How the hub's long-running processes run: on uvloop, with a collector tuned for latency.

CPython's cycle collector stops the whole process while it traverses the objects it tracks.
With the default thresholds a busy process ran a full collection every few seconds, and in
one holding 2,000 sockets each took 80-230 ms (bench/live.py): a latency spike for every
client at once. So once a process is set up, the objects of its start-up (modules, classes,
the app) are frozen out of every later collection, and the young generation is collected
after 50,000 net allocations instead of 700: the objects in flight at each young collection
are what gets promoted, and promotions are what trigger full collections.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

import uvloop
from redis.asyncio import Redis

from hub.infra.redis_clients import connect
from hub.settings import Settings

log = logging.getLogger(__name__)

YOUNG_COLLECTION_ALLOCATIONS = 50_000

T = TypeVar("T")


def settle_after_startup() -> None:
    """Call once the process has imported and built what it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, middle, old)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop, as ``hub serve`` runs under uvicorn."""
    return uvloop.run(main)


class Service(Protocol):
    """A long-running process's work: runs until ``stop`` is set, then lets go of what it holds."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


def serve(settings: Settings, build: Callable[[Redis], Service]) -> int:
    """The start-up every asynchronous process shares: connect, build, handle signals, settle, run, close."""
    return run(_serve(settings, build))


async def _serve(settings: Settings, build: Callable[[Redis], Service]) -> int:
    redis = connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = build(redis)
    log.info("%s started", service.name)
    settle_after_startup()
    try:
        await service.run(stop)
    finally:
        await redis.aclose()
    return 0
