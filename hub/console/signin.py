"""Signing in (an API key exchanged for a session), signing out, and `hub dev`'s one-click link.

The sign-in form is CSRF-protected too, before any session exists: ``GET`` sets a random value
in a cookie scoped to the sign-in path and the same value in a hidden field; the ``POST`` must
bring both, equal (compared in constant time). So another site cannot sign a browser in to
an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.console import auth, forms, sessions, templating
from hub.errors import NotFound
from hub.registry import api_keys, merchants
from hub.settings import Settings
from hub.web.state import services

PRE_COOKIE = "hub_console_signin"
PRE_TTL_S = 3600
MAX_KEY_CHARS = 200  # API keys are 46 characters


async def signin_page(request: Request) -> Response:
    if await auth.signed_in(request) is not None:
        return RedirectResponse(auth.safe_next(request.query_params.get("next")), status_code=303)
    return _form(request, 200, None)


async def signin(request: Request) -> Response:
    try:
        form = await forms.read_form(request)
    except forms.FormError as bad:
        return _form(request, bad.status, bad.message)
    pre = request.cookies.get(PRE_COOKIE, "")
    sent = form.get(auth.CSRF_FIELD, "")
    if not pre or not hmac.compare_digest(pre.encode(), sent.encode()):
        return _form(request, 403, "this sign-in form is out of date: sign in again from this page")
    api_key = form.get("api_key", "").strip()
    if not api_key or len(api_key) > MAX_KEY_CHARS:
        return _form(request, 422, "enter the API key (hk_…) of your merchant account")
    svc = services(request)
    found = await api_keys.authenticate(svc.redis, api_key)
    if found is None:
        return _form(request, 401, "this API key is unknown or was revoked")
    if found.merchant_disabled or svc.gate.is_disabled(found.key.merchant_id):
        return _form(request, 403, "this merchant is disabled by the operator; its data is kept")
    session = await sessions.create(svc.redis, svc.settings.console, found.key.merchant_id, found.key.id)
    return _signed_in(request, session, form.get("next"))


async def signout(request: Request) -> Response:
    who = await auth.signed_in(request)
    if who is not None:
        await auth.checked_post(request, who)  # 403 without the session's CSRF token
        await sessions.end(services(request).redis, who.session.id)
    response = RedirectResponse(auth.SIGNIN, status_code=303)
    auth.forget(response)
    return response


async def signout_route(request: Request) -> Response:
    try:
        return await signout(request)
    except auth.Refused as refused:
        return templating.error(request, refused.status, refused.message)
    except forms.FormError as bad:
        return templating.error(request, bad.status, bad.message)


async def dev_link(request: Request) -> Response:
    """``hub dev`` only: a one-time ticket from its banner signs the demo merchant in."""
    svc = services(request)
    ticket = request.query_params.get("ticket", "")
    found = await sessions.redeem_ticket(svc.redis, ticket) if 0 < len(ticket) <= 100 else None
    if found is None:
        return _form(request, 401, "this sign-in link was used already or has expired: sign in with the key")
    merchant_id, api_key_id = found
    try:
        merchant = await merchants.get(svc.redis, merchant_id)
    except NotFound:
        merchant = None
    if merchant is None or merchant.disabled or not await api_keys.exists(svc.redis, merchant_id, api_key_id):
        return _form(request, 401, "this sign-in link's merchant or key is gone: sign in with a key")
    session = await sessions.create(svc.redis, svc.settings.console, merchant_id, api_key_id)
    return _signed_in(request, session, None)


def _signed_in(request: Request, session: sessions.Session, target: str | None) -> Response:
    response = RedirectResponse(auth.safe_next(target), status_code=303)
    auth.remember(request, response, session)
    response.delete_cookie(PRE_COOKIE, path=auth.SIGNIN)
    return response


def _form(request: Request, status_code: int, message: str | None) -> Response:
    """The sign-in form with a fresh CSRF value, in its cookie and its hidden field."""
    pre = secrets.token_urlsafe(24)
    target = auth.safe_next(request.query_params.get("next"))
    response = templating.render(
        request, "signin.html", None, status_code=status_code, pre=pre, message=message, next=target
    )
    response.set_cookie(
        PRE_COOKIE,
        pre,
        max_age=PRE_TTL_S,
        path=auth.SIGNIN,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def routes(settings: Settings) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout_route, methods=["POST"]),
    ]
    if settings.console.dev_signin_links:  # never in production: only `hub dev` sets it
        found.append(Route("/signin/link", dev_link, methods=["GET"]))
    return found
