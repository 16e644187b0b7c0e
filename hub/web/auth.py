"""Who is calling: the admin (``HUB_ADMIN_TOKEN``) or a merchant (its API key)."""

from __future__ import annotations

from starlette.requests import Request

from hub.registry import api_keys
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
    merchant, _ = await require_merchant_key(request)
    return merchant


async def require_merchant_key(request: Request) -> tuple[Merchant, str]:
    """The caller's merchant and the id of the API key it called with (refused as above)."""
    found = await api_keys.authenticate(services(request).redis, bearer(request))
    if found is None:
        raise ApiError(401, "invalid API key (unknown or revoked)")
    merchant = Merchant(found.key.merchant_id, found.merchant_name, found.merchant_disabled)
    if merchant.disabled:
        raise ApiError(
            403, f"merchant {merchant.id} is disabled by the operator; its data is kept", "merchant_disabled"
        )
    return merchant, found.key.id
