"""all24 tracking: ``GET /v1/tracking/orders``, HTTP Basic with the API key as user name.

Two lookups, as the document gives them: by all24's own tracking number
(``all24_tracking_number``), or by a third-party number with the seller's
``customer_id``. A shipment registered as ``<customer_id>:<tracking_number>`` uses the second.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from hub.clients import Answer, _http
from hub.settings import Settings


class All24Client:
    provider = "all24"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        config = settings.provider(self.provider)
        self.base_url = config.base_url
        self.auth = httpx.BasicAuth(config.credentials.get("api_key", ""), "")
        self.http = http

    async def track(self, ref: str) -> Answer:
        customer_id, _, tracking_number = ref.rpartition(":")
        params = (
            {"tracking_number": tracking_number, "customer_id": customer_id}
            if customer_id
            else {"all24_tracking_number": ref}
        )
        request = self.http.build_request("GET", f"{self.base_url}/v1/tracking/orders", params=params)
        response = await _http.send(self.http, self.provider, request, self.auth)
        _http.check(self.provider, response)
        return _http.answer("tracking", response)
