"""AL Services Client API tracking, with the Bearer token its login hands out.

The document names the operations but not their paths, so both are settings
(``HUB_ALCLIENT_LOGIN_PATH``, ``HUB_ALCLIENT_TRACKING_PATH``). The token lives in Redis so
every worker shares one login; a 401 means it expired: log in again once and retry,
and only a refused login marks the account unauthorized.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from hub import keys
from hub.clients import Answer, Unauthorized, _http, account_id
from hub.model import safejson
from hub.settings import Settings

TOKEN_TTL_S = 24 * 3600  # the document gives no lifetime; a 401 refreshes it sooner


class AlClientClient:
    provider = "alclient"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        config = settings.provider(self.provider)
        self.base_url = config.base_url
        self.mobile = config.credentials.get("mobile", "")
        self.password = config.credentials.get("password", "")
        self.login_path = settings.poll.alclient_login_path
        self.tracking_path = settings.poll.alclient_tracking_path
        self.token_key = keys.alclient_token(account_id(settings, self.provider))
        self.http = http
        self.redis = redis

    async def track(self, ref: str) -> Answer:
        token = await self.redis.get(self.token_key) or await self.login(None)
        response = await self._tracking(ref, token)
        if response.status_code == 401:
            response = await self._tracking(ref, await self.login(token))
        _http.check(self.provider, response)
        return _http.answer("tracking", response)

    async def login(self, expired: str | None) -> str:
        """A fresh token, unless another worker already replaced the ``expired`` one."""
        current = await self.redis.get(self.token_key)
        if current and current != expired:
            return str(current)
        request = self.http.build_request(
            "POST", self.base_url + self.login_path, json={"mobile": self.mobile, "password": self.password}
        )
        response = await _http.send(self.http, self.provider, request)
        _http.check(self.provider, response)
        token = _access_token(response)
        if token is None:
            raise Unauthorized(
                self.provider, f"login at {self.login_path} refused (HTTP {response.status_code})"
            )
        await self.redis.set(self.token_key, token, ex=TOKEN_TTL_S)
        return token

    async def _tracking(self, ref: str, token: str) -> httpx.Response:
        path = self.tracking_path.format(order_id=ref)
        request = self.http.build_request(
            "GET",
            self.base_url + path,
            params={"order_id": ref} if "{order_id}" not in self.tracking_path else None,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        return await _http.send(self.http, self.provider, request)


def _access_token(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    try:  # the guarded reader: a token that cannot go into a header (a lone surrogate) is no token
        body = safejson.loads(response.content, safejson.PROVIDER_LIMITS, expect=None)
    except safejson.Refusal:
        return None
    token = body.get("access_token") if isinstance(body, dict) and body.get("flag", "Y") == "Y" else None
    return token if isinstance(token, str) and token else None
