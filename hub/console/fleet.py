"""The live fleet map: every active shipment of the merchant, moving as events arrive.

The page loads ``/console/fleet.json`` (the live stream's offset, read first, then the active
shipments), asks ``POST /console/live-token`` for a short-lived browser token minted for the
session's API key (the page never holds the key), and subscribes to ``/v1/live`` with
``since`` = that offset: nothing between the two reads is lost, and after a drop it resumes
from the last offset it saw (docs/live.md). A token minted for a key dies with it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub import keys
from hub.console import templating, views
from hub.console.auth import SignedIn, page
from hub.console.templating import HEADERS
from hub.live import history, tokens
from hub.registry import journey, shipments
from hub.web.state import services

SCAN_BATCH = 200


@page
async def fleet_page(request: Request, who: SignedIn) -> Response:
    tile_url = services(request).settings.live.tile_url
    return templating.render(request, "fleet.html", who, section="fleet", tile_url=tile_url)


@page
async def fleet_json(request: Request, who: SignedIn) -> Response:
    redis = services(request).redis
    offset, _ = await history.stream_end(redis)  # first: later events reach the page live
    active = await active_shipments(request, who.merchant.id)
    pipe = redis.pipeline(transaction=False)
    for shipment in active:
        pipe.xrevrange(keys.history(shipment.id), count=views.LATE_LOOKBACK_EVENTS)
    recent = await pipe.execute() if active else []
    markers = []
    for shipment, entries in zip(active, recent, strict=True):
        events = [_event(fields) for _, fields in entries]
        markers.append(views.marker(shipment, journey.late_eta(shipment, events)))
    return JSONResponse({"offset": offset, "shipments": markers}, headers=HEADERS)


@page
async def live_token(request: Request, who: SignedIn) -> Response:
    """A browser token for ``/v1/live``, bound to the session's API key (CSRF-checked POST)."""
    svc = services(request)
    ttl_s = svc.settings.live.token_ttl_s
    token = await tokens.issue(svc.redis, who.merchant.id, ttl_s, who.session.api_key_id)
    return JSONResponse({"token": token, "expires_in_s": ttl_s}, status_code=201, headers=HEADERS)


async def active_shipments(request: Request, merchant_id: str) -> list[shipments.Shipment]:
    """Tracked, unfinished shipments, newest first: at most ``fleet_max``, found among the newest
    ``fleet_scan_max``."""
    svc = services(request)
    limits = svc.settings.console
    found: list[shipments.Shipment] = []
    cursor: str | None = None
    scanned = 0
    while scanned < limits.fleet_scan_max and len(found) < limits.fleet_max:
        batch, cursor = await shipments.page(svc.redis, merchant_id, limit=SCAN_BATCH, cursor=cursor)
        scanned += len(batch)
        found += [s for s in batch if s.tracking and not s.terminal]
        if cursor is None:
            break
    return found[: limits.fleet_max]


def _event(fields: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(fields["event"])
    return event


routes: list[BaseRoute] = [
    Route("/", fleet_page, methods=["GET"]),
    Route("/fleet.json", fleet_json, methods=["GET"]),
    Route("/live-token", live_token, methods=["POST"]),
]
