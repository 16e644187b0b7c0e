"""HLD public tracking: ``GET /api/v1/track/{tracking_token}``, no authentication.

The tracking token is the shipment's ``provider_ref``, so there are no credentials to
refuse; an unknown token comes back as ``success: false`` for the normalizer to report.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from redis.asyncio import Redis

from hub.clients import Answer, _http
from hub.settings import Settings


class HldClient:
    provider = "hld"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        self.base_url = settings.provider(self.provider).base_url
        self.http = http

    async def track(self, ref: str) -> Answer:
        request = self.http.build_request("GET", f"{self.base_url}/api/v1/track/{quote(ref, safe='')}")
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response)
        return _http.answer("tracking", response)
