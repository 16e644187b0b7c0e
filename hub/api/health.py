"""Liveness and readiness probes (public: they reveal nothing but up/down)."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.clients import accounts
from hub.web.state import services

READY_TIMEOUT_S = 2.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await asyncio.wait_for(services(request).redis.ping(), READY_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse(
            {"status": "unavailable", "checks": {"redis": f"unreachable: {type(exc).__name__}"}}, 503
        )
    checks = {"redis": "ok"}
    # Provider accounts whose credentials were refused (401): polls paused, still ready to serve.
    paused = await accounts.unhealthy(services(request).redis, services(request).settings)
    checks.update({f"provider:{name}": f"unauthorized: {reason}" for name, reason in paused.items()})
    return JSONResponse({"status": "degraded" if paused else "ready", "checks": checks})


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
