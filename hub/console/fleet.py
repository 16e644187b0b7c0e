"""The live fleet map: every active shipment of the merchant, moving as events arrive."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hub.console import templating
from hub.console.auth import SignedIn, page


@page
async def fleet_page(request: Request, who: SignedIn) -> Response:
    return templating.render(request, "fleet.html", who, section="fleet")


routes: list[BaseRoute] = [
    Route("/console", fleet_page, methods=["GET"]),
]
