"""Private-channel authorization, signed exactly as Pusher signs it.

``pusher-js`` posts ``socket_id`` and ``channel_name`` to the auth endpoint and sends
the returned ``auth`` (``<key>:<hex HMAC-SHA256 of "socket_id:channel">``) with its
subscribe. Signing uses the official ``pusher`` library, so the hub cannot drift from
Pusher's scheme; the socket side recomputes and compares in constant time.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from pusher.authentication_client import AuthenticationClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub import keys
from hub.live import access
from hub.live.access import Refused
from hub.settings import Settings
from hub.web.auth import bearer
from hub.web.bodies import BodyTooLarge, read_capped
from hub.web.errors import ApiError
from hub.web.state import services

MERCHANT_CHANNEL_PREFIX = "private-merchant-"
SHIPMENT_CHANNEL_PREFIX = "shipment-"
APP_ID = "1"  # the library wants a numeric id; the hub has one app
MAX_AUTH_BODY_BYTES = 4096
AUTHORIZED_TTL_S = 3600  # pusher-js subscribes right after authorizing; a reconnect authorizes again


class InvalidSignature(ValueError):
    """The ``auth`` of a subscribe does not match what the hub would have signed."""


def _client(settings: Settings) -> AuthenticationClient:
    if not settings.live.pusher_secret:
        raise ApiError(403, "private channels are disabled: set HUB_LIVE_PUSHER_SECRET to enable them")
    return AuthenticationClient(APP_ID, settings.live.pusher_key, settings.live.pusher_secret.reveal())


def sign(settings: Settings, socket_id: str, channel: str) -> str:
    auth: str = _client(settings).authenticate(channel, socket_id)["auth"]
    return auth


def verify(settings: Settings, socket_id: str, channel: str, auth: object) -> None:
    if not isinstance(auth, str) or not settings.live.pusher_secret:
        raise InvalidSignature(f"Invalid signature: no valid auth for {channel}")
    expected = sign(settings, socket_id, channel)
    if not hmac.compare_digest(auth.encode(), expected.encode()):
        raise InvalidSignature(f"Invalid signature: auth does not match socket {socket_id} and {channel}")


async def authorize(request: Request) -> Response:
    """``POST /v1/live/pusher/auth``: a merchant (API key or live token) may join its own channel."""
    settings: Settings = services(request).settings
    try:
        body = await read_capped(request, MAX_AUTH_BODY_BYTES)
    except BodyTooLarge:
        raise ApiError(413, f"auth requests are at most {MAX_AUTH_BODY_BYTES} bytes") from None
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    socket_id, channel = form.get("socket_id"), form.get("channel_name")
    if not isinstance(socket_id, str) or not isinstance(channel, str):
        raise ApiError(400, "send socket_id and channel_name (form-encoded, as pusher-js does)")
    if not channel.startswith(MERCHANT_CHANNEL_PREFIX):
        raise ApiError(403, f"only {MERCHANT_CHANNEL_PREFIX}<merchant_id> channels need authorization")
    try:
        scope = await access.by_credential(services(request).redis, bearer(request))
        access.check_enabled(services(request).gate, scope)
    except Refused as refused:
        status = 403 if refused.close_code == access.FORBIDDEN else 401
        raise ApiError(status, refused.message, refused.code if status == 403 else None) from None
    if channel != MERCHANT_CHANNEL_PREFIX + scope.merchant_id:
        raise ApiError(403, "this channel belongs to another merchant")
    try:
        auth = sign(settings, socket_id, channel)
    except ValueError as exc:  # the library refuses malformed socket ids and channel names
        raise ApiError(400, str(exc)) from None
    if scope.api_key_id:  # the socket closes when this key is revoked (hub.live.service.close_refused)
        await services(request).redis.set(
            keys.pusher_authorized(socket_id, channel), scope.api_key_id, ex=AUTHORIZED_TTL_S
        )
    return JSONResponse({"auth": auth})
