"""Alopeyk order details: ``GET /api/v2/orders/{id}`` with Bearer JWT and ``X-Requested-With``.

Alopeyk reports errors as constants inside HTTP 200; those reach the normalizer, which
raises them as ``ProviderError``. Its ``X-MinuteRateLimit-*``/``X-DailyRateLimit-*``
headers travel back in the :class:`~hub.clients.Answer` (read by :mod:`hub.clients.quota`).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from redis.asyncio import Redis

from hub.clients import Answer, _http
from hub.model import times
from hub.settings import Settings

# The columns the document's "get order details" example asks for: everything the normalizer reads.
COLUMNS = "*,addresses,screenshot,progress,courier,customer,last_position_minimal,eta_minimal"


class AlopeykClient:
    provider = "alopeyk"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        config = settings.provider(self.provider)
        self.base_url = config.base_url
        self.token = config.credentials.get("token", "")
        self.tz = times.zone(config.timezone)  # the zone its rate-limit identifiers are written in
        self.http = http

    async def track(self, ref: str) -> Answer:
        request = self.http.build_request(
            "GET",
            f"{self.base_url}/api/v2/orders/{quote(ref, safe='')}",
            params={"columns": COLUMNS},
            headers={"Authorization": f"Bearer {self.token}", "X-Requested-With": "XMLHttpRequest"},
        )
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response, self.tz)
        return _http.answer("order", response, self.tz)
