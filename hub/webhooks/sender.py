"""One HTTP attempt: signed, time-boxed, redirects refused, response read up to a cap."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

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
    unsafe: bool = False  # refused by the SSRF guard: retrying would be refused the same way

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failure(self) -> Failure:
        return Failure(self.status, self.timed_out, self.retry_after)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("retry_after", "unsafe")}


POOL_CONNECTIONS = 32  # per endpoint, when HUB_WEBHOOK_MAX_IN_FLIGHT sets no limit


class Clients:
    """One small aiohttp session (connection pool) per endpoint.

    aiohttp rather than httpx: measured here, httpx's pool costs grow with its size and
    topped out near 200 requests/s where aiohttp did over 3,000. Separate pools keep one
    endpoint's connections from crowding out another's. Redirects are never followed
    and proxy settings from the environment are ignored.
    """

    def __init__(self, settings: Settings, allowed: list[guard.Network]) -> None:
        self.settings = settings
        self.allowed = allowed
        self.size = settings.webhook.max_in_flight or POOL_CONNECTIONS
        self.timeout = aiohttp.ClientTimeout(
            total=settings.webhook.total_timeout_s, sock_connect=settings.webhook.connect_timeout_s
        )
        self._by_endpoint: dict[str, aiohttp.ClientSession] = {}

    def get(self, endpoint_id: str) -> aiohttp.ClientSession:
        if endpoint_id not in self._by_endpoint:
            connector = aiohttp.TCPConnector(limit=self.size, resolver=guard.GuardedResolver(self.allowed))
            self._by_endpoint[endpoint_id] = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, trust_env=False, auto_decompress=False
            )
        return self._by_endpoint[endpoint_id]

    async def retain(self, endpoint_ids: set[str]) -> None:
        """Close the pools of endpoints that no longer exist."""
        for gone in set(self._by_endpoint) - endpoint_ids:
            await self._by_endpoint.pop(gone).close()

    async def aclose(self) -> None:
        await self.retain(set())


async def send(
    session: aiohttp.ClientSession,
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
        guard.check_literal(url, allowed)
        async with session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as response:
            head = await _read_capped(response.content, settings.webhook.response_cap_bytes)
        return attempt(
            status=response.status,
            body=head.decode("utf-8", "replace"),
            retry_after=response.headers.get("retry-after"),
            error=None if 200 <= response.status < 300 else f"HTTP {response.status}",
        )
    except guard.UnsafeUrl as exc:
        return attempt(error=f"refused: {exc}", unsafe=True)
    except TimeoutError:
        return attempt(error="timed out", timed_out=True)
    except aiohttp.ClientError as exc:
        return attempt(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


async def _read_capped(stream: aiohttp.StreamReader, cap_bytes: int) -> bytes:
    head = b""
    while len(head) < cap_bytes:
        chunk = await stream.read(cap_bytes - len(head))
        if not chunk:
            break
        head += chunk
    return head
