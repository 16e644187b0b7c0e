"""The recipient's live-tracking page (``/track/{token}``) and its JSON (``/v1/track/{token}``).

The page is static HTML/JS/CSS and one JSON catalog per language from ``hub/static/track``,
plus Leaflet from the ``xstatic-leaflet`` package, all served by the hub (no CDN, no build
step). The JSON is the public view: what a recipient may see, phones masked (see
:mod:`hub.live.views`), the merchant's brand and the provider's real name. The registry keeps
no addresses, so pickup and drop-off points are known only once stop events carrying them arrived.
docs/recipient-page.md says what a recipient sees.
"""

from __future__ import annotations

import functools
import html
import re
from importlib import resources
from typing import Any

import xstatic.pkg.leaflet
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hub import providers
from hub.api.track_languages import LANGUAGES, negotiate
from hub.errors import NotFound
from hub.live import history, views
from hub.model.observation import EventType
from hub.registry import brand, journey, shipments
from hub.settings import Settings
from hub.web.state import services

TRAIL_EVENTS = 500
STATIC = resources.files("hub") / "static" / "track"
LOGO_CACHE_S = 300
_PLACEHOLDER = re.compile(r"\{\{(token|tile_url|lang|dir|state)\}\}")


async def track_json(request: Request) -> Response:
    return JSONResponse(await tracking_view(request, request.path_params["token"]))


async def track_page(request: Request) -> Response:
    """The page; for an unknown (or expired) token, the same page saying so in the viewer's language, 404."""
    try:
        await _shipment(request, request.path_params["token"])
        found = True
    except NotFound:
        found = False
    settings: Settings = services(request).settings
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    values = {
        "token": request.path_params["token"],
        "tile_url": settings.live.tile_url,
        "lang": lang,
        "dir": LANGUAGES[lang],
        "state": "" if found else "invalid",
    }
    # One pass, so a value that looks like a placeholder (a token "{{lang}}") stays as it is.
    page = _PLACEHOLDER.sub(lambda m: html.escape(values[m[1]]), _template())
    # Its CSP and referrer policy (the URL holds the token) come with every answer: security_headers.
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Language"}
    return HTMLResponse(page, status_code=200 if found else 404, headers=headers)


async def track_logo(request: Request) -> Response:
    """The merchant's logo, by the tracking token (a merchant id is never public)."""
    shipment = await _shipment(request, request.path_params["token"])
    found = await brand.logo_bytes(services(request).redis, shipment.merchant_id)
    if found is None:
        raise NotFound("this shipment's merchant has no logo")
    logo, data = found
    headers = {"Cache-Control": f"private, max-age={LOGO_CACHE_S}", "ETag": f'"{logo.sha256}"'}
    return Response(data, media_type=logo.content_type, headers=headers)


@functools.cache
def _template() -> str:
    return (STATIC / "track.html").read_text(encoding="utf-8")


async def tracking_view(request: Request, token: str) -> dict[str, Any]:
    redis = services(request).redis
    settings: Settings = services(request).settings
    shipment = await _shipment(request, token)
    offset, _ = await history.stream_end(redis)  # read first: later events reach the page live
    events = [
        views.public_event(e, settings.live.show_phones)
        for e in await shipments.history(redis, shipment.id, TRAIL_EVENTS)
    ]
    return {
        **views.public_shipment(shipment, settings.live.show_phones),
        "provider_name": providers.display_name(shipment.provider),
        "brand": _public_brand(await brand.get(redis, shipment.merchant_id), token),
        "offset": offset,
        "trail": journey.trail(events),
        "timeline": [
            {"status": e["data"]["status"], "time": e["time"], "stale": e["data"].get("stale", False)}
            for e in events
            if e["type"] == EventType.STATUS_CHANGED.value
        ],
        "stops": journey.stops(events),
        "late_eta": journey.late_eta(shipment, events),
    }


def _public_brand(found: brand.Brand, token: str) -> dict[str, Any]:
    logo = found.logo
    return {
        "name": found.display_name,
        "color": found.color,
        "text_color": found.text_color,
        "logo_url": f"/v1/track/{token}/logo?v={logo.sha256[:16]}" if logo else None,
    }


async def _shipment(request: Request, token: str) -> shipments.Shipment:
    """The token's shipment; like an unknown token while its merchant is disabled (docs/tenancy.md)."""
    shipment = await shipments.by_token(services(request).redis, token)
    if services(request).gate.is_disabled(shipment.merchant_id):
        raise NotFound("no shipment has this tracking token")
    return shipment


routes = [
    Route("/track/{token}", track_page, methods=["GET"]),
    Route("/v1/track/{token}", track_json, methods=["GET"]),
    Route("/v1/track/{token}/logo", track_logo, methods=["GET"]),
    Mount("/static/live", StaticFiles(directory=str(STATIC)), name="live-static"),
    Mount("/static/leaflet", StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR), name="leaflet"),
]
