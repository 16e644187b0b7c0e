"""What every client does with HTTP: send with timeouts, turn failures into typed errors."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import httpx

from hub.clients import Answer, RateLimited, Unauthorized, Unavailable

DEFAULT_RETRY_AFTER_S = 30.0


async def send(
    http: httpx.AsyncClient, provider: str, request: httpx.Request, auth: httpx.Auth | None = None
) -> httpx.Response:
    """Send; transport failures become :class:`Unavailable`, naming the path (never credentials)."""
    try:
        if auth is None:
            return await http.send(request)
        return await http.send(request, auth=auth)
    except httpx.TimeoutException as exc:
        raise Unavailable(provider, f"timed out ({type(exc).__name__}) on {request.url.path}") from None
    except httpx.TransportError as exc:
        raise Unavailable(provider, f"{type(exc).__name__} on {request.url.path}: {exc}") from None


def check(provider: str, response: httpx.Response) -> None:
    """Raise the typed error an HTTP status calls for; 2xx and 4xx payload errors pass."""
    status = response.status_code
    if status == 429:
        retry_after_s = retry_after(response.headers) or DEFAULT_RETRY_AFTER_S
        raise RateLimited(provider, f"429 on {response.request.url.path}", retry_after_s)
    if status == 401:
        raise Unauthorized(provider, f"401 on {response.request.url.path}: credentials refused")
    if status >= 500:
        raise Unavailable(provider, f"HTTP {status} on {response.request.url.path}")


def answer(kind: str, response: httpx.Response) -> Answer:
    remaining, reset_s = rate_headers(response.headers)
    return Answer(kind, response.content, remaining, reset_s)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds: either delta-seconds or an HTTP date."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def rate_headers(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    """The smallest ``X-*RateLimit-Remaining`` (Alopeyk sends minute and day) and its reset."""
    lowest: tuple[int, float | None] | None = None
    for name, value in headers.items():
        name = name.lower()
        if not (name.startswith("x-") and name.endswith("ratelimit-remaining")):
            continue
        try:
            remaining = int(value)
        except ValueError:
            continue
        reset = _float(headers.get(name.removesuffix("remaining") + "reset"))
        if reset is None:
            reset = _window_s(name)
        if lowest is None or remaining < lowest[0]:
            lowest = (remaining, reset)
    return lowest if lowest else (None, None)


def _window_s(name: str) -> float | None:
    if "minute" in name:
        return 60.0
    if "daily" in name or "day" in name:
        return 86400.0
    return None


def _float(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None
