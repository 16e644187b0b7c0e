"""What every client does with HTTP: send with timeouts, turn failures into typed errors."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC, tzinfo

import httpx

from hub.clients import Answer, RateLimited, Unauthorized, Unavailable, quota

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


def check(provider: str, response: httpx.Response, tz: tzinfo = UTC) -> None:
    """Raise the typed error an HTTP status calls for; 2xx and 4xx payload errors pass.

    A 429 waits ``Retry-After``; without it, until an empty quota window the headers name
    ends (Alopeyk's day), else :data:`DEFAULT_RETRY_AFTER_S`.
    """
    status = response.status_code
    if status == 429:
        retry_after_s = retry_after(response.headers)
        if retry_after_s is None:
            remaining, reset_s = quota.rate_headers(response.headers, tz)
            empty = remaining is not None and remaining <= 0
            retry_after_s = reset_s if empty and reset_s else DEFAULT_RETRY_AFTER_S
        raise RateLimited(provider, f"429 on {response.request.url.path}", retry_after_s)
    if status == 401:
        raise Unauthorized(provider, f"401 on {response.request.url.path}: credentials refused")
    if status >= 500:
        raise Unavailable(provider, f"HTTP {status} on {response.request.url.path}")


def answer(kind: str, response: httpx.Response, tz: tzinfo = UTC) -> Answer:
    """The raw answer with its quota headers (windows they name are read in ``tz``)."""
    remaining, reset_s = quota.rate_headers(response.headers, tz)
    return Answer(kind, response.content, remaining, reset_s)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds: either delta-seconds or an HTTP date."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # "inf" or "nan" would hold the account forever (or fail every poll): not a delay
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
