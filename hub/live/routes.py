"""The live routes: WebSockets, browser tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from hub.live import native, pusher_auth, pusher_protocol, tokens
from hub.web.auth import require_merchant_key
from hub.web.state import services


async def issue_token(request: Request) -> Response:
    """A short-lived token a merchant's browser uses instead of the API key."""
    merchant, api_key_id = await require_merchant_key(request)
    ttl_s = services(request).settings.live.token_ttl_s
    token = await tokens.issue(services(request).redis, merchant.id, ttl_s, api_key_id)
    return JSONResponse({"token": token, "expires_in_s": ttl_s}, status_code=201)


routes = [
    WebSocketRoute("/v1/live", native.endpoint),
    Route("/v1/live/tokens", issue_token, methods=["POST"]),
    WebSocketRoute("/app/{key}", pusher_protocol.endpoint),
    Route("/v1/live/pusher/auth", pusher_auth.authorize, methods=["POST"]),
]
