"""Request ids: taken from ``X-Request-Id`` when a proxy sets one, else made; echoed back and logged."""

from __future__ import annotations

import logging
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.infra import logs

log = logging.getLogger("hub.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestId:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer WebSockets and streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A label to find a request's log lines by, not a secret: no system call for it.
        current = incoming if _VALID_ID.match(incoming) else f"{random.getrandbits(64):016x}"
        token = logs.request_id.set(current)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", current.encode())]
            await send(message)

        try:
            # A WebSocket's frames carry no headers: its send stays unwrapped (one call less per frame).
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if scope["type"] == "http":
                elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"fields": {"status": status, "duration_ms": elapsed_ms}},
                )
            logs.request_id.reset(token)
