"""What a merchant controls of its own credentials, and the operator's view of every merchant.

Merchant API key: ``/v1/keys`` (create, list, revoke its API keys) and
``POST /v1/receivers/alopeyk/rotate`` (a new Alopeyk receiver URL). Admin token:
``/v1/merchants`` (list, show, disable, enable). docs/tenancy.md says what each does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub import keys
from hub.errors import NotFound
from hub.model import safejson
from hub.registry import api_keys, merchants
from hub.streams import credentials
from hub.web.auth import require_admin, require_merchant
from hub.web.bodies import parse_object, read_capped, read_object, text_field
from hub.web.errors import ApiError
from hub.web.state import services
from hub.webhooks import endpoints
from hub.webhooks.queue import Deliveries

MAX_PAGE = 200
MAX_NAME_CHARS = 100
MAX_REASON_CHARS = 500
_KEY_NOTE = "key is shown only now; store it. Revoke it with DELETE /v1/keys/{id}."
_URL_NOTE = "alopeyk_webhook_url is shown only now; give it to Alopeyk before the previous one expires."


async def create_key(request: Request) -> Response:
    merchant = await require_merchant(request)
    name = text_field(await read_object(request), "name", MAX_NAME_CHARS)
    assert name is not None
    created = await api_keys.create(services(request).redis, merchant.id, name)
    body = {**created.key.to_json(), "key": created.secret, "note": _KEY_NOTE.format(id=created.key.id)}
    return JSONResponse(body, status_code=201)


async def list_keys(request: Request) -> Response:
    merchant = await require_merchant(request)
    found = await api_keys.listing(services(request).redis, merchant.id)
    return JSONResponse({"data": [key.to_json() for key in found]})


async def revoke_key(request: Request) -> Response:
    merchant = await require_merchant(request)
    await api_keys.revoke(services(request).redis, merchant.id, request.path_params["key_id"])
    return Response(status_code=204)


async def rotate_receiver_secret(request: Request) -> Response:
    merchant = await require_merchant(request)
    settings = services(request).settings
    body = await read_capped(request, settings.max_body_bytes)
    if body.strip():
        parse_object(body, safejson.Limits.of(settings))  # no fields yet; anything else is a mistake
    secret, until_ms = await merchants.rotate_alopeyk_secret(
        services(request).redis, merchant.id, settings.receiver_secret_overlap_s
    )
    return JSONResponse(
        {
            "alopeyk_webhook_url": f"{settings.public_url}/ingest/alopeyk/{secret}",
            "previous_url_valid_until_ms": until_ms,
            "note": _URL_NOTE,
        },
        status_code=201,
    )


async def list_merchants(request: Request) -> Response:
    require_admin(request)
    params = request.query_params
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise ApiError(422, "limit must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(422, f"limit must be between 1 and {MAX_PAGE}", field="limit")
    try:
        found, cursor = await merchants.page(services(request).redis, limit, params.get("cursor"))
    except NotFound as exc:
        raise ApiError(422, str(exc), field="cursor") from None
    return JSONResponse({"data": [m.to_json() for m in found], "next_cursor": cursor})


async def show_merchant(request: Request) -> Response:
    require_admin(request)
    redis = services(request).redis
    found = await merchants.details(redis, request.path_params["merchant_id"])
    counts = {
        "api_keys": len(await api_keys.listing(redis, found.merchant.id)),
        "shipments": await redis.zcard(keys.merchant_shipments(found.merchant.id)),
        "webhook_endpoints": await redis.scard(keys.webhook_merchant_endpoints(found.merchant.id)),
    }
    return JSONResponse({**found.to_json(), "counts": counts})


async def disable_merchant(request: Request) -> Response:
    require_admin(request)
    settings = services(request).settings
    body = await read_capped(request, settings.max_body_bytes)
    reason = "disabled by the operator"
    if body.strip():
        given = text_field(
            parse_object(body, safejson.Limits.of(settings)), "reason", MAX_REASON_CHARS, required=False
        )
        reason = given or reason
    redis = services(request).redis
    found = await merchants.set_disabled(redis, request.path_params["merchant_id"], reason)
    await credentials.suspend(redis, found.merchant.id)  # its stream consumers are cut off too
    return JSONResponse(found.to_json())


async def enable_merchant(request: Request) -> Response:
    """Everything resumes; the deliveries that waited are made due now, in their order."""
    require_admin(request)
    state = services(request)
    found = await merchants.set_disabled(state.redis, request.path_params["merchant_id"], None)
    await credentials.resume(state.redis, found.merchant.id)
    deliveries = Deliveries(state.redis, state.settings.webhook.retention_s)
    for endpoint in await endpoints.listing(state.redis, found.merchant.id):
        await deliveries.wake_endpoint(endpoint.id)
    return JSONResponse(found.to_json())


routes = [
    Route("/v1/keys", create_key, methods=["POST"]),
    Route("/v1/keys", list_keys, methods=["GET"]),
    Route("/v1/keys/{key_id}", revoke_key, methods=["DELETE"]),
    Route("/v1/receivers/alopeyk/rotate", rotate_receiver_secret, methods=["POST"]),
    Route("/v1/merchants", list_merchants, methods=["GET"]),
    Route("/v1/merchants/{merchant_id}", show_merchant, methods=["GET"]),
    Route("/v1/merchants/{merchant_id}/disable", disable_merchant, methods=["POST"]),
    Route("/v1/merchants/{merchant_id}/enable", enable_merchant, methods=["POST"]),
]
