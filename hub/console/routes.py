"""Every console route, gathered for the app (``hub/api/app.py`` mounts :func:`routes`).

A page module exposes ``routes``, a list of routes with paths relative to ``/console``
(``Route("/webhooks", ...)`` answers ``/console/webhooks``); add it to :data:`PAGES`, and its
section to :data:`hub.console.nav.NAV`. Handlers are wrapped with :func:`hub.console.auth.page`.
The console is one ``Mount``: its HTML pages are not API routes (``/openapi.json`` covers those),
and ``/console`` redirects to ``/console/``, the fleet map.
"""

from __future__ import annotations

from importlib import resources

import xstatic.pkg.leaflet_markercluster
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from hub.console import fleet, operations, shipments, signin, webhooks, webhooks_endpoint, webhooks_log
from hub.settings import Settings

STATIC = resources.files("hub") / "static" / "console"

# The console's page modules, in no particular order (the webhooks and operations pages join here).
PAGES: list[list[BaseRoute]] = [
    fleet.routes,
    shipments.routes,
    webhooks.routes,
    webhooks_endpoint.routes,
    webhooks_log.routes,
    operations.routes,
]


def routes(settings: Settings) -> list[BaseRoute]:
    pages = [*signin.routes(settings), *(route for page_routes in PAGES for route in page_routes)]
    return [
        Mount("/console", routes=pages, name="console"),
        Mount("/static/console", StaticFiles(directory=str(STATIC)), name="console-static"),
        Mount(
            "/static/markercluster",
            StaticFiles(directory=xstatic.pkg.leaflet_markercluster.BASE_DIR),
            name="markercluster",
        ),
    ]
