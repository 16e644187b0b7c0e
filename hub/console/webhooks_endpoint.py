"""One endpoint's page: its filters (editable), pause, resume, a new secret, a test event, and its
delivery log with a retry for each delivery and recovery of the failed ones since a time.

Every action is the one the API runs (:mod:`hub.webhooks.manage`); after it the browser is sent
back to the page (303) with a fixed note of what was done. A rotated secret is shown once, on
the page that answers the POST, and never again.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.console import once, templating
from hub.console.auth import Refused, SignedIn, page
from hub.console.display import utc
from hub.console.webhooks_forms import instant_ms, subscription_body
from hub.console.webhooks_log import done, log_rows, owned_endpoint
from hub.errors import Conflict, NotFound
from hub.web.state import services
from hub.webhooks import endpoints, manage, subscription
from hub.webhooks.delivery import now_ms
from hub.webhooks.endpoints import Endpoint
from hub.webhooks.subscription import EVENT_TYPES, PROVIDER_NAMES, InvalidSubscription

NOTES = {
    "saved": "Filters saved.",
    "paused": "Paused: deliveries wait until you resume.",
    "resumed": "Resumed: waiting deliveries go out now.",
    "tested": "Test event queued: it shows in the log below.",
    "retried": "Delivery queued again: its next attempt shows in the log below.",
    "recovered": "Failed deliveries queued again.",
    "repeated": "That form was already sent: nothing new was made (a secret is shown only once).",
}


async def endpoint_page(
    request: Request,
    who: SignedIn,
    endpoint: Endpoint,
    *,
    secret: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    note = NOTES.get(request.query_params.get("done", ""), "")
    count = request.query_params.get("count", "")
    if note and request.query_params.get("done") == "recovered" and count.isdecimal():
        note = f"{int(count)} failed deliveries queued again."
    return templating.render(
        request,
        "webhook_endpoint.html",
        who,
        status_code=status_code,
        section="webhooks",
        endpoint=endpoint,
        secret=secret,
        note=note,
        errors=errors or {},
        rows=await log_rows(request, endpoint),
        event_types=EVENT_TYPES,
        providers=PROVIDER_NAMES,
        utc=utc,
        once=once.nonce(),
    )


@page
async def show(request: Request, who: SignedIn) -> Response:
    return await endpoint_page(request, who, await owned_endpoint(request, who))


@page
async def save_filters(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    state = services(request)
    try:
        changes = await subscription.changes(
            subscription_body(who.form, with_url=False), state.settings, True
        )
    except InvalidSubscription as exc:
        return await endpoint_page(request, who, endpoint, errors={exc.field: str(exc)}, status_code=422)
    await endpoints.save(state.redis, endpoint, **changes)
    return done(endpoint, "saved")


@page
async def pause(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    try:
        await manage.pause(services(request).redis, endpoint)
    except Conflict as exc:
        return await endpoint_page(request, who, endpoint, errors={"state": str(exc)}, status_code=409)
    return done(endpoint, "paused")


@page
async def resume(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    state = services(request)
    await manage.resume(state.redis, manage.delivery_queue(state.redis, state.settings), endpoint)
    return done(endpoint, "resumed")


@page
async def send_test(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    state = services(request)
    await manage.send_test(manage.delivery_queue(state.redis, state.settings), endpoint)
    return done(endpoint, "tested")


@page
async def rotate(request: Request, who: SignedIn) -> Response:
    """A new secret; the previous one keeps signing for HUB_WEBHOOK_SECRET_OVERLAP_S."""
    endpoint = await owned_endpoint(request, who)
    state = services(request)
    if not await once.first_use(state.redis, who):
        return done(endpoint, "repeated")
    box, overlap_s = manage.secret_box(state.settings), state.settings.webhook.secret_overlap_s
    updated, secret = await endpoints.rotate(state.redis, box, endpoint, overlap_s)
    return await endpoint_page(request, who, updated, secret=secret)


@page
async def delete(request: Request, who: SignedIn) -> Response:
    """Gone with its secrets; its pending deliveries are cancelled (as ``DELETE`` in the API)."""
    endpoint = await owned_endpoint(request, who)
    if who.form.get("confirm") != "yes":
        problem = "tick the box to confirm: the endpoint and its pending deliveries go"
        return await endpoint_page(request, who, endpoint, errors={"delete": problem}, status_code=422)
    await endpoints.delete(services(request).redis, endpoint)
    return RedirectResponse("/console/webhooks?done=deleted", status_code=303)


@page
async def retry_delivery(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    state = services(request)
    deliveries = manage.delivery_queue(state.redis, state.settings)
    try:
        delivery = await deliveries.get(request.path_params["delivery_id"], who.merchant.id)
        if delivery.endpoint_id != endpoint.id:
            raise NotFound("another endpoint's delivery")
        await manage.retry(deliveries, delivery.id, who.merchant.id)
    except NotFound:
        raise Refused(404, "no such delivery for this endpoint (or not yours)") from None
    return done(endpoint, "retried")


@page
async def recover(request: Request, who: SignedIn) -> Response:
    endpoint = await owned_endpoint(request, who)
    try:
        since_ms = instant_ms(who.form.get("since"), "since", who.form.get("since_offset_min"))
    except InvalidSubscription as exc:
        return await endpoint_page(request, who, endpoint, errors={"since": str(exc)}, status_code=422)
    state = services(request)
    deliveries = manage.delivery_queue(state.redis, state.settings)
    recovered = await manage.recover_failed(deliveries, endpoint, since_ms, now_ms())
    return done(endpoint, "recovered", count=len(recovered))


_EP = "/webhooks/{endpoint_id}"  # under the console's Mount at /console
routes: list[BaseRoute] = [
    Route(_EP, show, methods=["GET"]),
    Route(f"{_EP}/filters", save_filters, methods=["POST"]),
    Route(f"{_EP}/pause", pause, methods=["POST"]),
    Route(f"{_EP}/resume", resume, methods=["POST"]),
    Route(f"{_EP}/test", send_test, methods=["POST"]),
    Route(f"{_EP}/rotate", rotate, methods=["POST"]),
    Route(f"{_EP}/delete", delete, methods=["POST"]),
    Route(f"{_EP}/recover", recover, methods=["POST"]),
    Route(f"{_EP}/deliveries/{{delivery_id}}/retry", retry_delivery, methods=["POST"]),
]
