"""The ASGI application: every route, one Redis client, one store, per process."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from hub.api import (
    brand,
    health,
    merchants,
    metrics,
    openapi,
    operations,
    shipments,
    stream_credentials,
    tracking,
    webhooks,
)
from hub.console import routes as console_routes
from hub.errors import HubError
from hub.infra import logs, runtime
from hub.infra.lru import LRU
from hub.infra.redis_clients import connect
from hub.ingest.inbox import Inbox
from hub.ingest.pipeline import Ingestor
from hub.live import routes as live_routes
from hub.live import wire as live_wire
from hub.live.listening_socket import listening_socket
from hub.live.service import LiveService
from hub.receive import alopeyk_webhook, pusher_webhook
from hub.registry.gate import Gate
from hub.settings import Settings
from hub.streams.acl_keeper import AclKeeper
from hub.web.errors import HANDLERS
from hub.web.middleware import RequestId
from hub.web.security_headers import SecurityHeaders
from hub.web.state import Services

# An upper bound on a receiver secret's cached merchant; a rotation or a disable drops the
# cache within a second anyway (hub.registry.gate).
RECEIVER_SECRET_CACHE_S = 30


def create_app(settings: Settings | None = None, *, own_process: bool = False) -> Starlette:
    """``own_process``: the app is all its process runs (``hub serve``), so it may tune the process."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        logs.configure(settings.log_level)
        redis = connect(settings)
        receiver_secrets: LRU[str, Any] = LRU(max_entries=10_000, ttl_s=RECEIVER_SECRET_CACHE_S)
        gate = Gate(redis, caches=(receiver_secrets,))
        state = Services(
            settings=settings,
            redis=redis,
            ingestor=Ingestor(redis, settings),
            inbox=Inbox(
                redis,
                durability=settings.ingest_durability,
                fsync_timeout_ms=settings.ingest_fsync_timeout_ms,
            ),
            receiver_secrets=receiver_secrets,
            live=LiveService(redis, settings, gate),
            gate=gate,
        )
        app.state.services = state
        await state.inbox.check_durability()
        await state.live.start()
        await gate.start()
        acl_keeper = AclKeeper(redis, settings)  # stream credentials back after a Redis restart
        acl_keeper.start()
        if own_process:
            runtime.settle_after_startup()
        try:
            yield {live_wire.STATE_KEY: state.live}  # the live sockets' protocol finds it here
        finally:
            await acl_keeper.stop()
            await gate.stop()
            await state.live.stop()
            await state.ingestor.close()
            await state.inbox.close()
            await redis.aclose()

    routes = [
        # Providers' webhooks first: the router tries routes in order, and these are the busiest
        # (a tenth of the receiver's CPU went to matching the routes listed before them).
        *alopeyk_webhook.routes,
        *pusher_webhook.routes,
        *health.routes,
        *shipments.routes,
        *merchants.routes,
        *brand.routes,
        *webhooks.routes,
        *stream_credentials.routes,
        *operations.routes,
        *openapi.routes,
        *metrics.routes,
        *live_routes.routes,
        *tracking.routes,
        *console_routes.routes(settings),
    ]
    middleware = [Middleware(RequestId), Middleware(SecurityHeaders, tile_url=settings.live.tile_url)]
    return Starlette(routes=routes, exception_handlers=HANDLERS, lifespan=lifespan, middleware=middleware)


def create_served_app() -> Starlette:
    """The factory ``hub serve`` gives uvicorn, in each worker process."""
    return create_app(own_process=True)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """``hub serve``: uvicorn, on a listening socket the live fan-out can tune."""
    import uvicorn

    if not settings.redis_url:
        raise HubError("hub serve needs HUB_REDIS_URL (redis://host:port/db); for a local run use `hub dev`")
    listener = listening_socket(args.host, args.port, settings.live.send_buffer_bytes)  # live fan-out
    uvicorn.run(
        "hub.api.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        fd=listener.fileno() if listener else None,
        workers=args.workers,
        log_config=None,  # the app configures JSON logs in every worker process
        access_log=False,  # hub.api.middleware logs each request, with its request id
        proxy_headers=True,
        ws_per_message_deflate=settings.live.compression,  # off: deflate costs CPU on every frame
        ws=live_wire.LiveWebSocketProtocol,  # live sockets without the ASGI stack (hub/live/wire.py)
    )
    return 0
