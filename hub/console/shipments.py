"""The shipments list (search, filters, pages) and one shipment's detail."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
