"""The ASGI application: every route, one Redis client, one store, per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from hub.api import health, openapi, receivers, shipments, tracking
from hub.api.errors import HANDLERS
from hub.connection import connect
from hub.ingest import Ingestor
from hub.live import routes as live_routes
from hub.live.service import LiveService
from hub.settings import Settings


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = connect(settings)
        app.state.settings = settings
        app.state.redis = redis
        app.state.ingestor = Ingestor(redis, settings)
        app.state.live = LiveService(redis, settings)  # live fan-out: one stream reader per process
        await app.state.live.start()
        try:
            yield
        finally:
            await app.state.live.stop()
            await redis.aclose()

    routes = [
        *health.routes,
        *shipments.routes,
        *receivers.routes,
        *openapi.routes,
        *live_routes.routes,
        *tracking.routes,
    ]
    return Starlette(routes=routes, exception_handlers=HANDLERS, lifespan=lifespan)
