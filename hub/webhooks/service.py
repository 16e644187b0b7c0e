"""Process entry point for ``hub dispatcher`` (``hub worker`` sends the deliveries)."""

from __future__ import annotations

import asyncio
import logging
import signal

from hub.infra import runtime
from hub.infra.redis_clients import connect
from hub.settings import Settings
from hub.webhooks.dispatcher import Dispatcher

log = logging.getLogger(__name__)


def run_dispatcher(settings: Settings) -> None:
    runtime.run(_dispatch(settings))


async def _dispatch(settings: Settings) -> None:
    from workers.delivery_worker import Kicker

    redis = connect(settings)
    kicker = Kicker(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    dispatcher = Dispatcher(redis, settings, kick=kicker)
    log.info("dispatcher %s reading the event stream", dispatcher.name)
    runtime.settle_after_startup()
    try:
        await dispatcher.run(stop)
    finally:
        await kicker.aclose()
        await redis.aclose()
