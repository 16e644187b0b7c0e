"""An endpoint's delivery log in the console: each delivery with every attempt.

The log is a table fragment the endpoint's page includes and ``deliveries.js`` fetches again
every few seconds (``GET /console/webhooks/{id}/log``), so new attempts show without a reload.
Answer excerpts are the receiver's text: Jinja2 escapes them, so a ``<script>`` is shown, not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.console import templating
from hub.console.auth import Refused, SignedIn, page
from hub.console.display import utc
from hub.errors import NotFound
from hub.web.state import services
from hub.webhooks import attempt_log, endpoints, manage
from hub.webhooks.attempt_log import LoggedAttempt
from hub.webhooks.delivery import Delivery
from hub.webhooks.endpoints import Endpoint

LOG_ROWS = 50


@dataclass(frozen=True)
class LogRow:
    delivery: Delivery
    attempts: list[LoggedAttempt]


async def owned_endpoint(request: Request, who: SignedIn) -> Endpoint:
    """The path's endpoint if it is the signed-in merchant's; another's is as absent as a missing one."""
    try:
        return await endpoints.get(
            services(request).redis, request.path_params["endpoint_id"], who.merchant.id
        )
    except NotFound:
        raise Refused(404, "no such webhook endpoint (or not yours)") from None


async def log_rows(request: Request, endpoint: Endpoint) -> list[LogRow]:
    """The endpoint's newest deliveries, each with every attempt."""
    state = services(request)
    found, _ = await manage.delivery_queue(state.redis, state.settings).page(endpoint.id, limit=LOG_ROWS)
    logs = await attempt_log.attempt_logs(state.redis, found)
    return [LogRow(delivery, log) for delivery, log in zip(found, logs, strict=True)]


def done(endpoint: Endpoint, what: str, **extra: Any) -> Response:
    """Back to the endpoint's page with a note of what was done (a fixed word, never the input)."""
    query = "&".join([f"done={what}", *(f"{k}={v}" for k, v in extra.items())])
    return RedirectResponse(f"/console/webhooks/{endpoint.id}?{query}", status_code=303)


@page
async def log_fragment(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    rows = await log_rows(request, endpoint)
    return templating.render(request, "webhook_log.html", who, endpoint=endpoint, rows=rows, utc=utc)


routes: list[BaseRoute] = [
    Route("/webhooks/{endpoint_id}/log", log_fragment, methods=["GET"]),
]
