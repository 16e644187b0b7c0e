"""The console's Webhooks section: the merchant's endpoints, and subscribing a new one.

Each form goes through the same checks as ``/v1/webhooks`` (:mod:`hub.webhooks.subscription`,
the SSRF guard included): a refused field comes back as the form with the reason beside it,
never a 5xx. A new endpoint's signing secret is shown once, on the page the POST answers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.console import once, templating
from hub.console.auth import SignedIn, page
from hub.console.webhooks_endpoint import endpoint_page
from hub.console.webhooks_forms import subscription_body
from hub.web.state import services
from hub.webhooks import endpoints, manage, subscription
from hub.webhooks.subscription import EVENT_TYPES, PROVIDER_NAMES, InvalidSubscription

NOTES = {
    "repeated": "That form was already sent: nothing new was made (a secret is shown only once).",
    "deleted": "Endpoint deleted: its pending deliveries are cancelled.",
}


async def listing_page(
    request: Request,
    who: SignedIn,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    found = await endpoints.listing(services(request).redis, who.merchant.id)
    return templating.render(
        request,
        "webhooks.html",
        who,
        status_code=status_code,
        section="webhooks",
        endpoints=found,
        event_types=EVENT_TYPES,
        providers=PROVIDER_NAMES,
        errors=errors or {},
        values=values or {},
        note=NOTES.get(request.query_params.get("done", ""), ""),
        once=once.nonce(),
    )


@page
async def webhooks_page(request: Request, who: SignedIn) -> Response:
    return await listing_page(request, who)


@page
async def create(request: Request, who: SignedIn) -> Response:
    state = services(request)
    try:
        fields = await subscription.changes(subscription_body(who.form, with_url=True), state.settings, False)
    except InvalidSubscription as exc:
        return await listing_page(request, who, {exc.field: str(exc)}, who.form, status_code=422)
    if not await once.first_use(state.redis, who):
        return RedirectResponse("/console/webhooks?done=repeated", status_code=303)
    endpoint, secret = await endpoints.create(
        state.redis, manage.secret_box(state.settings), who.merchant.id, **fields
    )
    return await endpoint_page(request, who, endpoint, secret=secret, status_code=201)


routes: list[BaseRoute] = [
    Route("/webhooks", webhooks_page, methods=["GET"]),
    Route("/webhooks", create, methods=["POST"]),
]
