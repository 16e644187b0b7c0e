"""``POST /ingest/pusher``: Pusher webhooks from an operator's own Pusher app relaying HLD events.

The batch is trusted only when the ``pusher`` library's ``validate_webhook`` accepts it
(right key, HMAC-SHA256 of the raw body, ``time_ms`` within five minutes). When it does
not, the refusal says which check failed. ``client_event`` entries on ``hld.order.*``
channels become HLD events; channel existence events are only counted.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

import pusher
from pusher.signature import verify
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.infra import metrics
from hub.ingest.pipeline import Ingestor, Rejected
from hub.model.observation import Channel
from hub.receive.hld_channels.protocol import hld_token
from hub.settings import Settings
from hub.web.bodies import read_capped
from hub.web.errors import ApiError
from hub.web.state import services

MAX_AGE_MS = 300_000  # what validate_webhook allows


async def pusher_webhook(request: Request) -> Response:
    settings: Settings = services(request).settings
    app, app_key, app_secret = _app(settings)
    body = await read_capped(request, settings.max_body_bytes)
    key = request.headers.get("X-Pusher-Key", "")
    signature = request.headers.get("X-Pusher-Signature", "")
    batch = app.validate_webhook(key, signature, body) if key and signature else None
    if batch is None:
        raise _refusal(app_key, app_secret, key, signature, body)
    events = batch.get("events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ApiError(422, "'events' must be a list of objects", "malformed_webhook")
    redis = services(request).redis
    counts = {"published": 0, "duplicates": 0, "dead_lettered": 0, "ignored": 0}
    try:
        for event in events:
            await _ingest(services(request).ingestor, event, counts)
            await metrics.inc(redis, "hub_pusher_webhook_events_total", kind=str(event.get("name")))
    except RedisError as exc:  # nothing half-accepted: Pusher retries, event ids drop what was recorded
        raise ApiError(503, f"event store unavailable ({type(exc).__name__}); retry the batch") from None
    return JSONResponse(counts)


async def _ingest(ingestor: Ingestor, event: dict[str, Any], counts: dict[str, int]) -> None:
    token = hld_token(str(event.get("channel") or ""))
    if event.get("name") != "client_event" or token is None:
        counts["ignored"] += 1  # channel_occupied, channel_vacated, member events, other channels
        return
    name = str(event.get("event") or "").removeprefix("client-")
    data = event.get("data")
    body = data.encode() if isinstance(data, str) else json.dumps(data).encode()
    try:
        result = await ingestor.ingest_raw("hld", f"pusher:{name}", body, Channel.PUSHER, ref=token)
    except Rejected:
        counts["dead_lettered"] += 1
        return
    counts["published"] += len(result.published)
    counts["duplicates"] += len(result.appended) - len(result.published)


def _app(settings: Settings) -> tuple[pusher.Pusher, str, str]:
    hld = settings.provider("hld")
    key = settings.pusher.webhook_key or hld.credentials.get("pusher_key")
    secret = settings.pusher.webhook_secret.reveal() if settings.pusher.webhook_secret else None
    if not (key and secret):
        raise ApiError(404, "Pusher webhooks are not configured here (HUB_PUSHER_WEBHOOK_SECRET)")
    return pusher.Pusher(app_id=settings.pusher.webhook_app_id or "0", key=key, secret=secret), key, secret


def _refusal(app_key: str, app_secret: str, key: str, signature: str, body: bytes) -> ApiError:
    """Why validate_webhook said no, checked in its own order."""
    if not key or not signature:
        return ApiError(401, "X-Pusher-Key and X-Pusher-Signature headers are required", "unsigned_webhook")
    if not hmac.compare_digest(key.encode(), app_key.encode()):
        return ApiError(401, "X-Pusher-Key is not this hub's Pusher app key", "unknown_key")
    if not verify(app_secret, body.decode("utf-8", "replace"), signature):
        return ApiError(401, "X-Pusher-Signature is not the HMAC-SHA256 of the body", "bad_signature")
    try:
        time_ms = json.loads(body).get("time_ms")
    except (ValueError, AttributeError):
        return ApiError(400, "body is not a JSON object", "malformed_webhook")
    if not isinstance(time_ms, int | float) or not time_ms:
        return ApiError(400, "body has no numeric time_ms", "malformed_webhook")
    age_s = (time.time() * 1000 - time_ms) / 1000
    return ApiError(
        422, f"batch is {age_s:.0f} s from now; over {MAX_AGE_MS // 1000} s is refused", "stale_webhook"
    )


routes = [Route("/ingest/pusher", pusher_webhook, methods=["POST"])]
