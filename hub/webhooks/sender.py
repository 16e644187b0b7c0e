"""One HTTP attempt: signed, time-boxed, redirects refused, response read up to a cap."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from hub.settings import Settings
from hub.webhooks import guard
from hub.webhooks.retry import Failure
from hub.webhooks.signing import signature

USER_AGENT = "tracking-hub-webhooks/0.1"


@dataclass(frozen=True)
class Attempt:
    started_ms: int
    latency_ms: int
    status: int | None = None
    body: str = ""  # the first bytes of the response, decoded leniently
    error: str | None = None
    timed_out: bool = False
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failure(self) -> Failure:
        return Failure(self.status, self.timed_out, self.retry_after)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key != "retry_after"}


POOL_CONNECTIONS = 32  # per endpoint, when HUB_WEBHOOK_MAX_IN_FLIGHT sets no limit


def client(settings: Settings, max_connections: int) -> httpx.AsyncClient:
    """Never follows redirects nor reads proxy settings from the environment."""
    timeout = httpx.Timeout(settings.webhook_total_timeout_s, connect=settings.webhook_connect_timeout_s)
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)


class Clients:
    """One small connection pool per endpoint.

    httpcore's pool does work quadratic in its number of connections on every request
    (profiled: one shared pool of 128 fell to ~70 requests/s); small pools per endpoint
    stay fast, and keep one endpoint's connections from crowding out another's.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.size = settings.webhook_max_in_flight or POOL_CONNECTIONS
        self._by_endpoint: dict[str, httpx.AsyncClient] = {}

    def get(self, endpoint_id: str) -> httpx.AsyncClient:
        if endpoint_id not in self._by_endpoint:
            self._by_endpoint[endpoint_id] = client(self.settings, self.size)
        return self._by_endpoint[endpoint_id]

    async def retain(self, endpoint_ids: set[str]) -> None:
        """Close the pools of endpoints that no longer exist."""
        for gone in set(self._by_endpoint) - endpoint_ids:
            await self._by_endpoint.pop(gone).aclose()

    async def aclose(self) -> None:
        await self.retain(set())


async def send(
    http: httpx.AsyncClient,
    settings: Settings,
    allowed: list[guard.Network],
    url: str,
    msg_id: str,
    body: str,
    secrets: list[str],
) -> Attempt:
    started = time.time()
    started_ms = int(started * 1000)

    def attempt(**outcome: Any) -> Attempt:
        return Attempt(started_ms, int((time.time() - started) * 1000), **outcome)

    timestamp_s = int(started)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": signature(msg_id, timestamp_s, body, secrets),
    }
    try:
        guard.check_url(url, settings)
        await guard.resolve_public(url, allowed)
        async with asyncio.timeout(settings.webhook_total_timeout_s):
            async with http.stream("POST", url, content=body.encode(), headers=headers) as response:
                head = await _read_capped(response, settings.webhook_response_cap_bytes)
        return attempt(
            status=response.status_code,
            body=head.decode("utf-8", "replace"),
            retry_after=response.headers.get("retry-after"),
            error=None if response.is_success else f"HTTP {response.status_code}",
        )
    except guard.UnsafeUrl as exc:
        return attempt(error=f"refused: {exc}")
    except (TimeoutError, httpx.TimeoutException):
        return attempt(error="timed out", timed_out=True)
    except httpx.HTTPError as exc:
        return attempt(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


async def _read_capped(response: httpx.Response, cap_bytes: int) -> bytes:
    head = b""
    async for chunk in response.aiter_raw():
        head += chunk
        if len(head) >= cap_bytes:
            break
    return head[:cap_bytes]
