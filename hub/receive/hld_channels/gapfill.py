"""Recovering what a dropped connection missed, from HLD's public tracking endpoint.

The tracking response lists every status the order went through; ingesting it after a
(re)subscription records whatever was missed, and the deterministic event ids make
whatever was not missed a duplicate that is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import httpx

from hub.errors import HubError, NormalizationError, ProviderError
from hub.infra import metrics
from hub.infra.redis_clients import UNAVAILABLE
from hub.ingest.payload import Ingested, Payload, Rejected
from hub.ingest.pipeline import Ingestor
from hub.model.observation import Channel

log = logging.getLogger(__name__)

ATTEMPTS = 3
RETRY_DELAY_S = 1.0


class GapFillError(HubError):
    """HLD's tracking endpoint could not be read (network, timeout, 5xx)."""


async def fetch_tracking(http: httpx.AsyncClient, base_url: str, token: str) -> bytes | None:
    """The raw tracking response, or None when HLD does not know the token (404)."""
    url = f"{base_url.rstrip('/')}/api/v1/track/{quote(token, safe='')}"
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        raise GapFillError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise GapFillError(f"GET {url} answered HTTP {response.status_code}")
    return response.content


async def gap_fill(ingestor: Ingestor, http: httpx.AsyncClient, token: str) -> Ingested | None:
    """Ingest the order's tracking response; retried a few times, then counted and given up."""
    base_url = ingestor.settings.provider("hld").base_url
    redis = ingestor.redis
    for attempt in range(ATTEMPTS):
        body: bytes | None = None
        try:
            body = await fetch_tracking(http, base_url, token)
            if body is None:
                await metrics.inc(redis, "hub_pusher_gapfills_total", outcome="unknown_token")
                return None
            result = await ingestor.ingest_raw("hld", "tracking", body, Channel.POLL, ref=token)
            await metrics.inc(redis, "hub_pusher_gapfills_total", outcome="ok")
            await metrics.inc(redis, "hub_pusher_gapfill_recovered_total", len(result.published))
            return result
        except (Rejected, ProviderError) as exc:  # dead-lettered (or refused by HLD): retrying will not help
            await metrics.inc(redis, "hub_pusher_gapfills_total", outcome="rejected")
            log.warning("gap-fill of %s…: %s", token[:6], exc)
            return None
        except GapFillError as exc:
            log.warning("gap-fill of %s… (attempt %d/%d): %s", token[:6], attempt + 1, ATTEMPTS, exc)
        except UNAVAILABLE:
            raise  # the listener waits for Redis and gap-fills again
        except Exception as exc:  # the answer's own fault (a lone surrogate, a bug): kept after the last try
            log.exception("gap-fill of %s… (attempt %d/%d) failed", token[:6], attempt + 1, ATTEMPTS)
            if attempt + 1 == ATTEMPTS:
                await _keep_poison(
                    ingestor, token, body, f"gap-fill failed {ATTEMPTS} times, last with {exc!r}"
                )
                return None
        if attempt + 1 < ATTEMPTS:
            await asyncio.sleep(RETRY_DELAY_S * (attempt + 1))
    await metrics.inc(redis, "hub_pusher_gapfills_total", outcome="failed")
    return None


async def _keep_poison(ingestor: Ingestor, token: str, body: bytes | None, reason: str) -> None:
    payload = Payload("hld", "tracking", body or b"", Channel.POLL, ref=token)
    await ingestor.reject(payload, NormalizationError("hld", reason))
    await metrics.inc(ingestor.redis, "hub_pusher_gapfills_total", outcome="deadlettered")
    await metrics.inc(ingestor.redis, "hub_poison_deadlettered_total", consumer="pusher")
