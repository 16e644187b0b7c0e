"""``hub pusher``: one long-running listener process, stopped cleanly by SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from hub.connection import connect
from hub.pusher.connection import PusherRefused
from hub.pusher.listener import Listener
from hub.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Exit status: 0 after a clean stop, 2 when Pusher refused us (retrying unchanged would fail)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(settings))


async def _main(settings: Settings) -> int:
    redis = connect(settings)
    listener = Listener(redis, settings)
    task = asyncio.create_task(listener.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    log.info("hub pusher %s listening on %s", listener.worker_id, listener.url.split("?")[0])
    try:
        await task
    except asyncio.CancelledError:
        return 0
    except PusherRefused as refused:
        print(f"hub pusher: {refused}", file=sys.stderr)
        return 2
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()
    return 0
