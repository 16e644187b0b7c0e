"""Provider receivers: public by design, authenticated by a secret in the URL.

Alopeyk signs nothing, so each merchant's receiver URL carries a secret of its own; a
wrong secret is a 404 and nothing is stored. A body the guarded reader refuses
(hub/model/safejson.py: size, UTF-8, depth, number length, lone surrogates) or a body that
is not an order (Alopeyk's error envelope included) is refused at once with a precise 4xx and
kept (and counted) in the dead-letter stream. Anything else is appended to the inbox
(durably, sharing round trips with concurrent requests) before the 202; ``hub normalizer``
turns it into events within milliseconds (docs/ingest.md). With ``HUB_RECEIVE_INLINE`` the
receiver appends the events itself before a 200 instead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import NormalizationError
from hub.infra.lru import LRU
from hub.ingest.payload import Payload, Rejected
from hub.ingest.pipeline import Ingestor
from hub.model import safejson
from hub.model.observation import Channel
from hub.providers import alopeyk
from hub.registry import merchants
from hub.registry.merchants import Merchant, ReceiverMatch
from hub.web.bodies import BodyTooLarge, read_capped, refusal
from hub.web.errors import ApiError, error_response
from hub.web.state import Services, services


async def alopeyk_webhook(request: Request) -> Response:
    state = services(request)
    merchant = await _merchant_by_secret(state, request.path_params["secret"])
    if merchant is None:
        raise ApiError(404, "no receiver at this URL")
    settings = state.settings
    try:
        body = await read_capped(request, settings.max_body_bytes)
    except BodyTooLarge as too_large:
        return await _refuse(request, _payload(too_large.partial, merchant.id), too_large)
    payload = _payload(body, merchant.id)
    try:
        order = safejson.loads(body, safejson.Limits.of(settings))
    except safejson.Refusal as refused:
        return await _refuse(request, payload, refusal(refused))
    try:
        alopeyk.check_webhook(order)  # Alopeyk's {"status": "fail", ...} error envelope is no order either
    except NormalizationError as error:
        return await _refuse(request, payload, ApiError(422, error.reason, "not_normalizable"))
    if settings.receive_inline:
        return await _ingest_inline(state.ingestor, payload)
    entry = await state.inbox.add(payload)
    # JSONResponse's bytes, without a JSON encoder per request: a stream entry id is digits and a dash.
    return Response(b'{"accepted":"%s"}' % entry.encode(), 202, media_type="application/json")


def _payload(body: bytes, merchant_id: str) -> Payload:
    return Payload("alopeyk", "webhook", body, Channel.WEBHOOK, merchant_id=merchant_id, register=True)


async def _ingest_inline(ingestor: Ingestor, payload: Payload) -> Response:
    """Events appended before the answer, at a fraction of the inbox's rate (docs/ingest.md)."""
    [result] = await ingestor.ingest_batch([payload])
    if isinstance(result, Rejected):
        return error_response(422, result.reason, "not_normalizable", deadletter_id=result.deadletter_id)
    published = len(result.published)
    return JSONResponse(
        {
            "shipment_ids": sorted({appended.shipment_id for appended in result.appended}),
            "published": published,
            "duplicates": len(result.appended) - published,
        }
    )


async def _merchant_by_secret(state: Services, secret: str) -> Merchant | None:
    """Cached briefly per process (a receiver's merchant is looked up on every webhook).

    The cache is dropped whenever a secret is rotated or a merchant disabled or enabled
    (:mod:`hub.registry.gate`), and a rotated secret's entry ends with its overlap.
    """
    cache: LRU[str, ReceiverMatch] = state.receiver_secrets
    key = merchants.digest(secret)
    match = cache.get(key)
    if match is None:
        match = await merchants.by_alopeyk_secret(state.redis, secret)
        if match is None:
            return None
        cache.put(key, match)
    if match.valid_until_ms is not None and match.valid_until_ms <= merchants.now_ms():
        return None
    if match.merchant.disabled or state.gate.is_disabled(match.merchant.id):
        return None
    return match.merchant


async def _refuse(request: Request, payload: Payload, refusal: ApiError) -> Response:
    """Keep what we were sent (an oversized body truncated), count it, and say precisely why."""
    ingestor: Ingestor = services(request).ingestor
    rejected = await ingestor.reject(payload, NormalizationError(payload.provider, refusal.detail))
    return error_response(
        refusal.status_code, refusal.detail, refusal.code, deadletter_id=rejected.deadletter_id
    )


routes = [Route("/ingest/alopeyk/{secret}", alopeyk_webhook, methods=["POST"])]
