"""HLD public tracking: ``GET /api/v1/track/{tracking_token}``, no authentication.

The tracking token is the shipment's ``provider_ref``, so there are no credentials to
refuse; an unknown token comes back as ``success: false`` for the normalizer to report.
The order list (``GET /api/v1/web-client/orders``) needs the client's Bearer token
(``HUB_HLD_TOKEN``); the bulk reconciler (``workers/reconcile.py``) reads it in pages.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from redis.asyncio import Redis

from hub.clients import Answer, _http
from hub.errors import ConfigError
from hub.settings import Settings

ORDERS_PATH = "/api/v1/web-client/orders"  # the document's "Also available at" address


class HldClient:
    provider = "hld"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        self.base_url = settings.provider(self.provider).base_url
        self.token = settings.provider(self.provider).credentials.get("token")
        self.http = http

    async def track(self, ref: str) -> Answer:
        request = self.http.build_request("GET", f"{self.base_url}/api/v1/track/{quote(ref, safe='')}")
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response)
        return _http.answer("tracking", response)

    async def orders(self, page: int, per_page: int) -> Answer:
        """One page of the client's orders, newest first (raises :class:`Unauthorized` on a 401)."""
        if not self.token:
            raise ConfigError("HUB_HLD_TOKEN is not set: HLD's order list needs the client's Bearer token")
        request = self.http.build_request(
            "GET",
            f"{self.base_url}{ORDERS_PATH}",
            params={"per_page": per_page, "page": page},
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response)
        return _http.answer("orders", response)
