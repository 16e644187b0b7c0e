"""The console's Operations section: the merchant's own dead letters, API keys, stream credentials
and its stream consumers' lag.

Everything here is the signed-in merchant's alone (its dead-letter index, its key hash, its
stream users, its stream): another merchant's key or credential id is as absent as a missing
one. A new API key or stream password is shown once, on the page that answers the POST.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.console import once, templating
from hub.console.auth import Refused, SignedIn, page
from hub.console.display import utc
from hub.errors import Conflict, NotFound
from hub.ingest import deadletter
from hub.registry import api_keys
from hub.streams import consumers, credentials
from hub.web.state import services

DEAD_LETTERS_SHOWN = 50
MAX_KEY_NAME_CHARS = 100
PATH = "/console/operations"
ROUTE = "/operations"  # under the console's Mount at /console
NOTES = {
    "key-revoked": "API key revoked: requests with it are refused from now on.",
    "credential-revoked": "Stream credential revoked: its connections are closed.",
    "repeated": "That form was already sent: nothing new was made (a secret is shown only once).",
}


async def operations_page(
    request: Request,
    who: SignedIn,
    *,
    errors: dict[str, str] | None = None,
    shown_once: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    redis = services(request).redis
    merchant_id = who.merchant.id
    return templating.render(
        request,
        "operations.html",
        who,
        status_code=status_code,
        section="operations",
        letters=await deadletter.for_merchant(redis, merchant_id, DEAD_LETTERS_SHOWN),
        keys=await api_keys.listing(redis, merchant_id),
        credentials=await credentials.listing(redis, merchant_id),
        lag=await consumers.lag(redis, merchant_id),
        note=NOTES.get(request.query_params.get("done", ""), ""),
        errors=errors or {},
        shown_once=shown_once or {},
        utc=utc,
        once=once.nonce(),
    )


@page
async def show(request: Request, who: SignedIn) -> Response:
    return await operations_page(request, who)


@page
async def consumers_fragment(request: Request, who: SignedIn) -> Response:
    """The lag section alone, for ``refresh.js``."""
    lag = await consumers.lag(services(request).redis, who.merchant.id)
    return templating.render(request, "operations_lag.html", who, lag=lag)


@page
async def create_key(request: Request, who: SignedIn) -> Response:
    name = who.form.get("name", "").strip()
    if not name or len(name) > MAX_KEY_NAME_CHARS:
        problem = f"a key's name is 1 to {MAX_KEY_NAME_CHARS} printable characters"
        return await operations_page(request, who, errors={"key": problem}, status_code=422)
    if not await once.first_use(services(request).redis, who):
        return RedirectResponse(f"{PATH}?done=repeated", status_code=303)
    try:
        made = await api_keys.create(services(request).redis, who.merchant.id, name)
    except Conflict as exc:
        return await operations_page(request, who, errors={"key": str(exc)}, status_code=409)
    shown = {"key": made.secret, "key_name": made.key.name}
    return await operations_page(request, who, shown_once=shown, status_code=201)


@page
async def revoke_key(request: Request, who: SignedIn) -> Response:
    try:
        await api_keys.revoke(services(request).redis, who.merchant.id, request.path_params["key_id"])
    except NotFound:
        raise Refused(404, "no such API key (or not yours)") from None
    except Conflict as exc:
        return await operations_page(request, who, errors={"key": str(exc)}, status_code=409)
    return RedirectResponse(f"{PATH}?done=key-revoked", status_code=303)


@page
async def create_credential(request: Request, who: SignedIn) -> Response:
    description = who.form.get("description", "").strip()
    if len(description) > credentials.MAX_DESCRIPTION:
        problem = f"a description is at most {credentials.MAX_DESCRIPTION} characters"
        return await operations_page(request, who, errors={"credential": problem}, status_code=422)
    state = services(request)
    if not await once.first_use(state.redis, who):
        return RedirectResponse(f"{PATH}?done=repeated", status_code=303)
    try:
        made = await credentials.create(state.redis, state.settings, who.merchant.id, description)
    except credentials.TooManyCredentials as exc:
        return await operations_page(request, who, errors={"credential": str(exc)}, status_code=409)
    except credentials.AclNotPermitted as exc:
        return await operations_page(request, who, errors={"credential": str(exc)}, status_code=503)
    shown = {"user": made.credential.user, "password": made.password, "redis_url": made.redis_url}
    return await operations_page(request, who, shown_once=shown, status_code=201)


@page
async def revoke_credential(request: Request, who: SignedIn) -> Response:
    try:
        await credentials.revoke(services(request).redis, who.merchant.id, request.path_params["user"])
    except NotFound:
        raise Refused(404, "no such stream credential (or not yours)") from None
    except credentials.AclNotPermitted as exc:
        return await operations_page(request, who, errors={"credential": str(exc)}, status_code=503)
    return RedirectResponse(f"{PATH}?done=credential-revoked", status_code=303)


routes: list[BaseRoute] = [
    Route(ROUTE, show, methods=["GET"]),
    Route(f"{ROUTE}/consumers", consumers_fragment, methods=["GET"]),
    Route(f"{ROUTE}/keys", create_key, methods=["POST"]),
    Route(f"{ROUTE}/keys/{{key_id}}/revoke", revoke_key, methods=["POST"]),
    Route(f"{ROUTE}/stream-credentials", create_credential, methods=["POST"]),
    Route(f"{ROUTE}/stream-credentials/{{user}}/revoke", revoke_credential, methods=["POST"]),
]
