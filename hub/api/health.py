"""Liveness and readiness probes (public: they reveal nothing but up/down)."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.clients import accounts as poller_health

READY_TIMEOUT_S = 2.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), READY_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse(
            {"status": "unavailable", "checks": {"redis": f"unreachable: {type(exc).__name__}"}}, 503
        )
    checks = {"redis": "ok"}
    # Provider accounts whose credentials were refused (401): polls paused, still ready to serve.
    paused = await poller_health.unhealthy(request.app.state.redis, request.app.state.settings)
    checks.update({f"provider:{name}": f"unauthorized: {reason}" for name, reason in paused.items()})
    return JSONResponse({"status": "degraded" if paused else "ready", "checks": checks})


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
