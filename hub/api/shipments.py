"""Merchants (admin) and shipments (merchant API key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.providers import PROVIDERS
from hub.registry import erasure, merchants, shipments
from hub.web import shipment_filters
from hub.web.auth import require_admin, require_merchant
from hub.web.bodies import read_object, string_field
from hub.web.errors import ApiError
from hub.web.state import services

MAX_PAGE = 200


async def create_merchant(request: Request) -> Response:
    require_admin(request)
    body = await read_object(request)
    name = string_field(body, "name")
    assert name is not None
    created = await merchants.create(services(request).redis, name)
    public_url = services(request).settings.public_url
    return JSONResponse(
        {
            "id": created.merchant.id,
            "name": created.merchant.name,
            "api_key": created.api_key,
            "alopeyk_webhook_url": f"{public_url}/ingest/alopeyk/{created.alopeyk_secret}",
            "note": "api_key and alopeyk_webhook_url are shown only once; store them now.",
        },
        status_code=201,
    )


async def register_shipment(request: Request) -> Response:
    merchant = await require_merchant(request)
    body = await read_object(request)
    provider = string_field(body, "provider")
    if provider not in PROVIDERS:
        raise ApiError(422, f"provider must be one of {sorted(PROVIDERS)}", field="provider")
    provider_ref = string_field(body, "provider_ref")
    assert provider_ref is not None
    shipment, created = await shipments.register(
        services(request).redis,
        merchant.id,
        provider,
        provider_ref,
        string_field(body, "merchant_ref", required=False),
    )
    return JSONResponse(_view(request, shipment), status_code=201 if created else 200)


async def get_shipment(request: Request) -> Response:
    merchant = await require_merchant(request)
    redis = services(request).redis
    shipment = await shipments.get(redis, request.path_params["shipment_id"], merchant.id)
    return JSONResponse({**_view(request, shipment), "history": await shipments.history(redis, shipment.id)})


async def list_shipments(request: Request) -> Response:
    merchant = await require_merchant(request)
    params = request.query_params
    filters = shipment_filters.read(params)
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise ApiError(422, "limit must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(422, f"limit must be between 1 and {MAX_PAGE}", field="limit")
    found, cursor = await shipments.page(
        services(request).redis,
        merchant.id,
        limit=limit,
        cursor=params.get("cursor"),
        status=filters.status,
        provider=filters.provider,
        refs=filters.refs,
    )
    return JSONResponse({"data": [_view(request, s) for s in found], "next_cursor": cursor})


async def delete_shipment(request: Request) -> Response:
    """Stop tracking; with ``?erase=true`` also erase its personal data (docs/retention.md)."""
    merchant = await require_merchant(request)
    values = request.query_params.getlist("erase")
    if values not in ([], ["true"], ["false"]):
        raise ApiError(422, "erase must be given once, as true or false", field="erase")
    redis, shipment_id = services(request).redis, request.path_params["shipment_id"]
    if values == ["true"]:
        await erasure.erase(redis, shipment_id, merchant.id)
    else:
        await shipments.stop_tracking(redis, shipment_id, merchant.id)
    return Response(status_code=204)


def _view(request: Request, shipment: shipments.Shipment) -> dict[str, object]:
    public_url = services(request).settings.public_url
    return {**shipment.to_json(), "tracking_url": shipment.tracking_url(public_url)}


routes = [
    Route("/v1/merchants", create_merchant, methods=["POST"]),
    Route("/v1/shipments", register_shipment, methods=["POST"]),
    Route("/v1/shipments", list_shipments, methods=["GET"]),
    Route("/v1/shipments/{shipment_id}", get_shipment, methods=["GET"]),
    Route("/v1/shipments/{shipment_id}", delete_shipment, methods=["DELETE"]),
]
