"""``POST /ingest/pusher``: Pusher webhooks from an operator's own Pusher app relaying HLD events.

A batch is trusted only when it carries this hub's app key and the HMAC-SHA256 of its raw
bytes (as Pusher signs them), compared in constant time, and its ``time_ms`` is within five
minutes (the checks of the ``pusher`` library's ``validate_webhook``, done on bytes so that a
hostile body or header cannot make them raise). A refusal says which check failed. A signed
batch the guarded reader refuses (hub/model/safejson.py) or that is malformed is also kept in the
dead-letter stream. ``client_event`` entries on ``hld.order.*`` channels become HLD events;
channel existence events are only counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import NormalizationError
from hub.infra import metrics
from hub.ingest.payload import Payload, Rejected
from hub.ingest.pipeline import Ingestor
from hub.model import safejson
from hub.model.observation import Channel
from hub.receive.hld_channels.protocol import hld_token
from hub.settings import Settings
from hub.web.bodies import read_capped, refusal
from hub.web.errors import ApiError, error_response
from hub.web.state import services

MAX_AGE_MS = 300_000  # what validate_webhook allows
DEADLETTER_KIND = "pusher:webhook"


async def pusher_webhook(request: Request) -> Response:
    settings: Settings = services(request).settings
    app_key, app_secret = _credentials(settings)
    body = await read_capped(request, settings.max_body_bytes)
    _authenticate(app_key, app_secret, request.headers, body)
    try:
        batch = safejson.loads(body, safejson.Limits.of(settings))
        _check_batch(batch)
    except safejson.Refusal as refused:
        return await _refuse(request, refusal(refused), body)
    except ApiError as malformed:
        if malformed.code == "stale_webhook":  # authentic but old: a replay, or already delivered
            raise
        return await _refuse(request, malformed, body)
    redis = services(request).redis
    counts = {"published": 0, "duplicates": 0, "dead_lettered": 0, "ignored": 0}
    try:
        for event in batch["events"]:
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


def _credentials(settings: Settings) -> tuple[str, str]:
    hld = settings.provider("hld")
    key = settings.pusher.webhook_key or hld.credentials.get("pusher_key")
    secret = settings.pusher.webhook_secret.reveal() if settings.pusher.webhook_secret else None
    if not (key and secret):
        raise ApiError(404, "Pusher webhooks are not configured here (HUB_PUSHER_WEBHOOK_SECRET)")
    return key, secret


def _authenticate(app_key: str, app_secret: str, headers: Any, body: bytes) -> None:
    """401 unless the key is ours and the signature is the body's HMAC; headers are compared as bytes."""
    key, signature = headers.get("X-Pusher-Key", ""), headers.get("X-Pusher-Signature", "")
    if not key or not signature:
        raise ApiError(401, "X-Pusher-Key and X-Pusher-Signature headers are required", "unsigned_webhook")
    # Starlette decodes headers as latin-1, so this gives back the bytes sent, whatever they are.
    if not hmac.compare_digest(key.encode("latin-1"), app_key.encode()):
        raise ApiError(401, "X-Pusher-Key is not this hub's Pusher app key", "unknown_key")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(signature.encode("latin-1"), expected):
        raise ApiError(401, "X-Pusher-Signature is not the HMAC-SHA256 of the body", "bad_signature")


def _check_batch(batch: dict[str, Any]) -> None:
    time_ms = batch.get("time_ms")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int | float) or not time_ms:
        raise ApiError(400, "body has no numeric time_ms", "malformed_webhook")
    age_s = (time.time() * 1000 - time_ms) / 1000
    if abs(age_s) * 1000 > MAX_AGE_MS:
        raise ApiError(
            422, f"batch is {age_s:.0f} s from now; over {MAX_AGE_MS // 1000} s is refused", "stale_webhook"
        )
    events = batch.get("events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ApiError(422, "'events' must be a list of objects", "malformed_webhook")


async def _refuse(request: Request, refused: ApiError, body: bytes) -> Response:
    """A signed batch that cannot be read: kept whole and counted, so an operator can see and replay it."""
    ingestor: Ingestor = services(request).ingestor
    payload = Payload("hld", DEADLETTER_KIND, body, Channel.PUSHER)
    rejected = await ingestor.reject(payload, NormalizationError("hld", refused.detail))
    return error_response(
        refused.status_code, refused.detail, refused.code, deadletter_id=rejected.deadletter_id
    )


routes = [Route("/ingest/pusher", pusher_webhook, methods=["POST"])]
