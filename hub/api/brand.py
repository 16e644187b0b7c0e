"""The merchant's brand on its recipients' tracking page (``/v1/merchant/brand``; docs/api.md).

Each merchant changes only its own brand: the API key says whose. The display name and
colour are JSON; the logo is the raw image as the request body, checked by its magic bytes.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.registry import brand
from hub.web.auth import require_merchant
from hub.web.bodies import read_capped, read_object, text_field
from hub.web.errors import ApiError
from hub.web.state import services

_FIELDS = {"display_name", "color"}
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")


async def show_brand(request: Request) -> Response:
    merchant = await require_merchant(request)
    return JSONResponse((await brand.get(services(request).redis, merchant.id)).to_json())


async def put_brand(request: Request) -> Response:
    """Replace the display name and colour; a field absent or null is cleared. The logo is kept."""
    merchant = await require_merchant(request)
    body = await read_object(request)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ApiError(422, f"unknown field {unknown[0]!r}; expected display_name, color", field=unknown[0])
    name = text_field(body, "display_name", brand.MAX_NAME_CHARS, required=False)
    found = await brand.set_text(services(request).redis, merchant.id, name, _color(body))
    return JSONResponse(found.to_json())


def _color(body: dict[str, Any]) -> str | None:
    value = body.get("color")
    if value is None:
        return None
    if not isinstance(value, str) or not brand.COLOR.fullmatch(value):
        raise ApiError(422, "field 'color' must be a colour written #rrggbb (hex digits)", field="color")
    return value.lower()


async def put_logo(request: Request) -> Response:
    merchant = await require_merchant(request)
    declared = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if declared not in LOGO_TYPES:
        raise ApiError(415, f"a logo is sent as {', '.join(LOGO_TYPES)} (Content-Type), got {declared!r}")
    data = await read_capped(request, brand.MAX_LOGO_BYTES)
    if not data:
        raise ApiError(422, "the logo is empty: send the image as the request body")
    try:
        actual = brand.image_type(data)
    except brand.NotAnImage as exc:
        raise ApiError(415, str(exc)) from None
    if actual != declared:
        raise ApiError(415, f"the body is {actual}, not the {declared} its Content-Type says")
    found = await brand.set_logo(services(request).redis, merchant.id, data)
    return JSONResponse(found.to_json())


async def delete_logo(request: Request) -> Response:
    merchant = await require_merchant(request)
    await brand.delete_logo(services(request).redis, merchant.id)
    return Response(status_code=204)


routes = [
    Route("/v1/merchant/brand", show_brand, methods=["GET"]),
    Route("/v1/merchant/brand", put_brand, methods=["PUT"]),
    Route("/v1/merchant/brand/logo", put_logo, methods=["PUT"]),
    Route("/v1/merchant/brand/logo", delete_logo, methods=["DELETE"]),
]
