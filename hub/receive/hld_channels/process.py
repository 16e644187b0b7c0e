"""``hub pusher``: one long-running listener process, stopped cleanly by SIGTERM or Ctrl-C.

Shutdown is bounded: if a library holds on to a cancelled task (seen with redis-py under
load on Python 3.11), the process still gives up its lease and exits, and whatever it had
not stored is recovered by the worker that takes over its channels (gap-fill).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import uvloop

from hub.infra import runtime
from hub.infra.redis_clients import connect
from hub.receive.hld_channels.connection import PusherRefused
from hub.receive.hld_channels.listener import Listener
from hub.settings import Settings

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub pusher``: 0 after a clean stop, 2 when Pusher refused us (retrying unchanged would fail)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per gap-fill GET is noise
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(_main(settings))
    finally:
        loop.close()  # not asyncio.run: it would wait for tasks stuck past the shutdown timeout


async def _main(settings: Settings) -> int:
    redis = connect(settings)
    listener = Listener(redis, settings)
    task = asyncio.create_task(listener.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
    log.info("hub pusher %s listening on %s", listener.worker_id, listener.url.split("?")[0])
    runtime.settle_after_startup()
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            return 0
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=SHUTDOWN_TIMEOUT_S)
        if not done:
            log.warning("shutdown took over %.0f s; leaving the rest to the next holder", SHUTDOWN_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.leases.release(), SHUTDOWN_TIMEOUT_S)
        return 0
    except PusherRefused as refused:
        print(f"hub pusher: {refused}", file=sys.stderr)
        return 2
    finally:
        stopping.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(redis.aclose(), SHUTDOWN_TIMEOUT_S)


def _dump_tasks() -> None:
    """SIGUSR1: log where every task waits (innermost coroutine), to diagnose a stall."""
    for task in asyncio.all_tasks():
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and hasattr(awaited, "cr_frame"):
            frame = awaited.cr_frame
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            awaited = getattr(awaited, "cr_await", None)
        log.info("task %s: %s (awaiting %r)", task.get_name(), " > ".join(chain), awaited)
