"""Who is calling: the admin (``HUB_ADMIN_TOKEN``) or a merchant (its API key)."""

from __future__ import annotations

from starlette.requests import Request

from hub.registry import merchants
from hub.registry.merchants import Merchant
from hub.web.errors import ApiError
from hub.web.state import services


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send 'Authorization: Bearer <token>'")
    return token.strip()


def require_admin(request: Request) -> None:
    expected = services(request).settings.admin_token
    if not expected:
        raise ApiError(403, "admin API is disabled: set HUB_ADMIN_TOKEN to enable it")
    if not expected.matches(bearer(request)):
        raise ApiError(401, "invalid admin token")


async def require_merchant(request: Request) -> Merchant:
    """The caller's merchant: 401 for a key that is unknown or revoked, 403 while the merchant is disabled."""
    merchant = await merchants.by_api_key(services(request).redis, bearer(request))
    if merchant is None:
        raise ApiError(401, "invalid API key (unknown or revoked)")
    if merchant.disabled:
        raise ApiError(
            403, f"merchant {merchant.id} is disabled by the operator; its data is kept", "merchant_disabled"
        )
    return merchant
