"""The shipments list (search, filters, pages) and one shipment's detail.

The list reads the registry as ``GET /v1/shipments`` does (:func:`hub.registry.shipments.page`,
filters checked by :mod:`hub.web.shipment_filters`); the search box looks its term up as a
``merchant_ref`` and as a ``provider_ref`` in the lookup indexes (docs/tenancy.md).
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hub.console import forms, templating, views
from hub.console.auth import Refused, SignedIn, page
from hub.errors import NotFound
from hub.model.status import Status
from hub.providers import PROVIDERS
from hub.registry import journey, shipments
from hub.web import shipment_filters
from hub.web.errors import ApiError
from hub.web.state import services

SEARCH_LIMIT = 100  # shipments one search term finds (one reference names few)
HISTORY_EVENTS = 500  # the newest events the detail page shows
_CURSOR = re.compile(r"^shp_[0-9a-f]{1,40}$")


@page
async def list_page(request: Request, who: SignedIn) -> Response:
    params = QueryParams([(k, v) for k, v in request.query_params.multi_items() if v.strip()])
    try:
        filters = shipment_filters.read(params)
        query = forms.text(params.get("q"), shipment_filters.MAX_REF_CHARS)
    except ApiError as bad:
        raise Refused(422, str(bad.detail)) from None
    cursor = params.get("cursor")
    if cursor is not None and not _CURSOR.match(cursor):
        raise Refused(422, "this page link is malformed: start again from the first page")
    redis = services(request).redis
    if query is not None:
        found, next_cursor = await _search(request, who, query, filters), None
    else:
        found, next_cursor = await shipments.page(
            redis,
            who.merchant.id,
            limit=services(request).settings.console.page_size,
            cursor=cursor,
            status=filters.status,
            provider=filters.provider,
            refs=filters.refs,
        )
    kept = {k: v for k, v in params.items() if k in ("q", "status", "provider")}
    return templating.render(
        request,
        "shipments.html",
        who,
        section="shipments",
        shipments=found,
        query=query or "",
        status=filters.status or "",
        provider=filters.provider or "",
        statuses=[s.value for s in Status],
        providers=sorted(PROVIDERS),
        next_params=str(QueryParams({**kept, "cursor": next_cursor})) if next_cursor else None,
        first_params=str(QueryParams(kept)) if cursor else None,
    )


async def _search(
    request: Request, who: SignedIn, query: str, filters: shipment_filters.ShipmentFilters
) -> list[shipments.Shipment]:
    """The shipments whose merchant_ref or provider_ref is ``query``, newest first."""
    redis = services(request).redis
    found: dict[str, shipments.Shipment] = {}
    for field in shipments.LOOKUPS:
        matches, _ = await shipments.page(
            redis,
            who.merchant.id,
            limit=SEARCH_LIMIT,
            status=filters.status,
            provider=filters.provider,
            refs={field: query},
        )
        found.update((s.id, s) for s in matches)
    return sorted(found.values(), key=lambda s: s.id, reverse=True)[:SEARCH_LIMIT]


@page
async def detail_page(request: Request, who: SignedIn) -> Response:
    redis = services(request).redis
    shipment_id = request.path_params["shipment_id"]
    try:
        shipment = await shipments.get(redis, shipment_id, who.merchant.id)
    except NotFound:  # another merchant's shipment is as unknown as one that never existed
        return templating.error(request, 404, "no shipment of yours has this id", who)
    events = await shipments.history(redis, shipment.id, HISTORY_EVENTS)
    late = journey.late_eta(shipment, events)
    public_url = services(request).settings.public_url
    return templating.render(
        request,
        "shipment.html",
        who,
        section="shipments",
        shipment=shipment,
        marker=views.marker(shipment, late),
        late_eta=late,
        timeline=views.timeline(events),
        stops=journey.stops(events),
        trail=journey.trail(events),
        tracking_url=shipment.tracking_url(public_url),
        tile_url=services(request).settings.live.tile_url,
    )


routes: list[BaseRoute] = [
    Route("/shipments", list_page, methods=["GET"]),
    Route("/shipments/{shipment_id}", detail_page, methods=["GET"]),
]
