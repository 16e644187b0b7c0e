"""Who may watch what: a tracking token sees one shipment, a merchant sees all of its own."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from hub.errors import HubError, NotFound
from hub.live import tokens
from hub.live.fanout import merchant_topic, shipment_topic
from hub.registry import api_keys, shipments
from hub.registry.gate import Gate
from hub.registry.shipments import Shipment

# WebSocket close codes of the native protocol (4000-4999 is the application's range).
BAD_REQUEST = 4000
UNAUTHORIZED = 4001
FORBIDDEN = 4003  # the merchant is disabled, or the API key was revoked
NOT_FOUND = 4004
TOO_SLOW = 4008
TOO_MANY_CONNECTIONS = 4029
MERCHANT_DISABLED = "merchant_disabled"


class Refused(HubError):
    """A subscription is refused; ``close_code`` is what the socket is closed with."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Scope:
    topic: str
    merchant_id: str
    shipment: Shipment | None = None  # set for a tracking-token (public) subscription
    api_key_id: str | None = None  # set when opened with an API key (the socket ends if it is revoked)

    @property
    def public(self) -> bool:
        return self.shipment is not None


async def by_tracking_token(redis: Redis, token: object) -> Scope:
    if not isinstance(token, str) or not token:
        raise Refused(BAD_REQUEST, "bad_request", "tracking_token must be a non-empty string")
    try:
        shipment = await shipments.by_token(redis, token)
    except NotFound:
        raise Refused(NOT_FOUND, "not_found", "no shipment has this tracking token") from None
    return Scope(shipment_topic(shipment.id), shipment.merchant_id, shipment)


async def by_credential(redis: Redis, credential: object) -> Scope:
    """A merchant API key, or a browser token from ``POST /v1/live/tokens``."""
    if not isinstance(credential, str) or not credential:
        raise Refused(BAD_REQUEST, "bad_request", "token must be a merchant API key or a live token")
    key_id = None
    if credential.startswith(tokens.PREFIX):
        merchant_id, key_id = await tokens.owner(redis, credential) or (None, None)
        if (
            merchant_id is not None
            and key_id is not None
            and not await api_keys.exists(redis, merchant_id, key_id)
        ):
            raise Refused(UNAUTHORIZED, "unauthorized", "the API key that issued this live token was revoked")
    else:
        found = await api_keys.authenticate(redis, credential)
        if found is not None and found.merchant_disabled:
            raise Refused(FORBIDDEN, MERCHANT_DISABLED, "this merchant is disabled by the operator")
        merchant_id, key_id = (found.key.merchant_id, found.key.id) if found else (None, None)
    if merchant_id is None:
        raise Refused(UNAUTHORIZED, "unauthorized", "invalid or expired API key or live token")
    return Scope(merchant_topic(merchant_id), merchant_id, api_key_id=key_id)


def check_enabled(gate: Gate, scope: Scope) -> None:
    """Refuse a subscription to a disabled merchant's data (as this process last saw it)."""
    if gate.is_disabled(scope.merchant_id):
        raise Refused(FORBIDDEN, MERCHANT_DISABLED, "this merchant is disabled by the operator")


def merchant_scope(merchant_id: str) -> Scope:
    return Scope(merchant_topic(merchant_id), merchant_id)
