"""ALOD ``getTrackingDetails`` on the single merchant URL, header ``authkey``.

Every request names its ``Method`` and ``Model``; every answer is base64-wrapped JSON,
errors too (``status: error`` inside HTTP 200). Unwrapping is the normalizer's job.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from hub.clients import Answer, _http
from hub.settings import Settings


class AlodClient:
    provider = "alod"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        config = settings.provider(self.provider)
        self.base_url = config.base_url
        self.authkey = config.credentials.get("authkey", "")
        self.user_id = config.credentials.get("user_id", "")
        self.http = http

    async def track(self, ref: str) -> Answer:
        form = {
            "Method": "getTrackingDetails",
            "Model": "business_booking",
            "booking_id": ref,
            "user_id": self.user_id,
        }
        request = self.http.build_request("POST", self.base_url, data=form, headers={"authkey": self.authkey})
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response)
        return _http.answer("tracking", response)
