"""Who is calling: the admin (``HUB_ADMIN_TOKEN``) or a merchant (its API key)."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from hub.registry import merchants
from hub.registry.merchants import Merchant
from hub.web.errors import ApiError


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send 'Authorization: Bearer <token>'")
    return token.strip()


def require_admin(request: Request) -> None:
    expected = request.app.state.settings.admin_token
    if not expected:
        raise ApiError(403, "admin API is disabled: set HUB_ADMIN_TOKEN to enable it")
    if not hmac.compare_digest(bearer(request).encode(), expected.encode()):
        raise ApiError(401, "invalid admin token")


async def require_merchant(request: Request) -> Merchant:
    merchant = await merchants.by_api_key(request.app.state.redis, bearer(request))
    if merchant is None:
        raise ApiError(401, "invalid API key")
    return merchant
