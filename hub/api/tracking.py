"""The recipient's live-tracking page (``/track/{token}``) and its JSON (``/v1/track/{token}``).

The page is static HTML/JS/CSS from ``hub/static`` plus Leaflet from the
``xstatic-leaflet`` package, all served by the hub (no CDN, no build step). The JSON is
the public view: what a recipient may see, phones masked (see :mod:`hub.live.views`).
The registry keeps no addresses, so pickup and drop-off points are known only once
stop events carrying them have arrived.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

import xstatic.pkg.leaflet
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hub.errors import NotFound
from hub.live import history, views
from hub.model.observation import EventType
from hub.registry import shipments
from hub.settings import Settings
from hub.web.state import services

TRAIL_EVENTS = 500
STATIC = resources.files("hub") / "static"


async def track_json(request: Request) -> Response:
    return JSONResponse(await tracking_view(request, request.path_params["token"]))


async def track_page(request: Request) -> Response:
    await _shipment(request, request.path_params["token"])  # 404 when unknown
    settings: Settings = services(request).settings
    page = (STATIC / "track.html").read_text()
    page = page.replace("{{token}}", html.escape(request.path_params["token"]))
    page = page.replace("{{tile_url}}", html.escape(settings.live.tile_url))
    # Its CSP and referrer policy (the URL holds the token) come with every answer: security_headers.
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


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
        "offset": offset,
        "trail": [
            {**e["data"]["location"], "time": e["time"]}
            for e in events
            if e["type"] == EventType.LOCATION_UPDATED.value and e["data"].get("location")
        ],
        "timeline": [
            {"status": e["data"]["status"], "time": e["time"], "stale": e["data"].get("stale", False)}
            for e in events
            if e["type"] == EventType.STATUS_CHANGED.value
        ],
        "stops": _stops(events),
        "late_eta": _late_eta(shipment, events),
    }


async def _shipment(request: Request, token: str) -> shipments.Shipment:
    """The token's shipment; like an unknown token while its merchant is disabled (docs/tenancy.md)."""
    shipment = await shipments.by_token(services(request).redis, token)
    if services(request).gate.is_disabled(shipment.merchant_id):
        raise NotFound("no shipment has this tracking token")
    return shipment


def _late_eta(shipment: shipments.Shipment, events: list[dict[str, Any]]) -> str | None:
    """The ETA a ``shipment.delayed`` reported passed, while it is still the ETA and unfinished."""
    eta = shipment.state.get("eta")
    reported = {e["data"].get("eta") for e in events if e["type"] == EventType.DELAYED.value}
    return eta if eta and eta in reported and not shipment.terminal else None


def _stops(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest word on every stop, by index."""
    latest: dict[int, dict[str, Any]] = {}
    for event in events:
        stop = event["data"].get("stop")
        if stop:
            latest[int(stop["index"])] = {**stop, "time": event["time"]}
    return [latest[index] for index in sorted(latest)]


routes = [
    Route("/track/{token}", track_page, methods=["GET"]),
    Route("/v1/track/{token}", track_json, methods=["GET"]),
    Mount("/static/live", StaticFiles(directory=str(STATIC)), name="live-static"),
    Mount("/static/leaflet", StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR), name="leaflet"),
]
