"""The ASGI application: every route, one Redis client, one store, per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from hub.api import health, metrics, openapi, shipments, tracking, webhooks
from hub.infra import logs, runtime
from hub.infra.lru import LRU
from hub.infra.redis_clients import connect
from hub.ingest.inbox import Inbox
from hub.ingest.pipeline import Ingestor
from hub.live import routes as live_routes
from hub.live.service import LiveService
from hub.receive import alopeyk_webhook as receivers
from hub.receive import pusher_webhook
from hub.settings import Settings
from hub.web.errors import HANDLERS
from hub.web.middleware import RequestId

# How long a process may keep accepting a receiver secret after it was revoked.
RECEIVER_SECRET_CACHE_S = 30


def create_app(settings: Settings | None = None, *, own_process: bool = False) -> Starlette:
    """``own_process``: the app is all its process runs (``hub serve``), so it may tune the process."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logs.configure(settings.log_level)
        redis = connect(settings)
        app.state.settings = settings
        app.state.redis = redis
        app.state.ingestor = Ingestor(redis, settings)
        app.state.inbox = Inbox(redis)
        app.state.receiver_secrets = LRU(max_entries=10_000, ttl_s=RECEIVER_SECRET_CACHE_S)
        app.state.live = LiveService(redis, settings)  # live fan-out: one stream reader per process
        await app.state.live.start()
        if own_process:
            runtime.settle_after_startup()
        try:
            yield
        finally:
            await app.state.live.stop()
            await app.state.ingestor.close()
            await app.state.inbox.close()
            await redis.aclose()

    routes = [
        *health.routes,
        *shipments.routes,
        *receivers.routes,
        *pusher_webhook.routes,
        *webhooks.routes,
        *openapi.routes,
        *metrics.routes,
        *live_routes.routes,
        *tracking.routes,
    ]
    middleware = [Middleware(RequestId)]
    return Starlette(routes=routes, exception_handlers=HANDLERS, lifespan=lifespan, middleware=middleware)


def create_served_app() -> Starlette:
    """The factory ``hub serve`` gives uvicorn, in each worker process."""
    return create_app(own_process=True)
