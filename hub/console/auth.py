"""Who is signed in to the console, and the guard every console handler goes through.

A console handler is written as ``async def handler(request, who: SignedIn) -> Response`` and
wrapped with :func:`page`: without a live session it is never called (the browser is sent to the
sign-in page), and a POST without the session's CSRF token is refused with 403 before it runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.console import forms, sessions, templating
from hub.console.sessions import Session
from hub.errors import NotFound
from hub.registry import api_keys, merchants
from hub.registry.merchants import Merchant
from hub.web.state import services

COOKIE = "hub_console"
PATH = "/console"  # the cookie's path; every console route is under it (hub.console.routes)
HOME = f"{PATH}/"  # the fleet map
SIGNIN = f"{PATH}/signin"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")  # what secrets.token_urlsafe makes


@dataclass(frozen=True)
class SignedIn:
    """The signed-in merchant and its session; a POST handler gets it only with a valid CSRF token."""

    merchant: Merchant
    session: Session
    form: dict[str, str]  # the POSTed form, already read and checked (empty for a GET)

    @property
    def csrf(self) -> str:
        return self.session.csrf


Handler = Callable[[Request, SignedIn], Awaitable[Response]]


class Refused(Exception):
    """The console refuses the request; rendered as a page with ``status`` (hub.console.templating)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def signed_in(request: Request) -> SignedIn | None:
    """The request's live session and merchant, or ``None``; a session whose key was revoked, or
    whose merchant is disabled, is ended here."""
    session_id = request.cookies.get(COOKIE, "")
    if not _SESSION_ID.match(session_id):
        return None
    svc = services(request)
    session = await sessions.load(svc.redis, svc.settings.console, session_id)
    if session is None:
        return None
    try:
        merchant = await merchants.get(svc.redis, session.merchant_id)
    except NotFound:
        merchant = None
    if (
        merchant is None
        or merchant.disabled
        or svc.gate.is_disabled(merchant.id)
        or not await api_keys.exists(svc.redis, session.merchant_id, session.api_key_id)
    ):
        await sessions.end(svc.redis, session_id)
        return None
    return SignedIn(merchant, session, {})


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A console route: signed in (else to the sign-in page), CSRF-checked on POST."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            who = await signed_in(request)
            if who is None:
                if request.method != "GET":
                    raise Refused(401, "your console session has ended: sign in again")
                return to_signin(request)
            if request.method == "POST":
                who = await checked_post(request, who)
            return await handler(request, who)
        except Refused as refused:
            return templating.error(request, refused.status, refused.message)
        except forms.FormError as bad:
            return templating.error(request, bad.status, bad.message)

    return route


async def checked_post(request: Request, who: SignedIn) -> SignedIn:
    """The form of a POST whose CSRF token (hidden field, or header for scripts) is the session's."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        form: dict[str, str] = {}
        token: str | None = header
    else:
        form = await forms.read_form(request)
        token = form.get(CSRF_FIELD)
    if not who.session.csrf_matches(token):
        raise Refused(403, "this form is out of date or was not sent by the console (CSRF check failed)")
    return SignedIn(who.merchant, who.session, form)


def to_signin(request: Request) -> Response:
    """Back to the sign-in page, remembering where the browser was going (a console path only)."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    response = RedirectResponse(f"{SIGNIN}?next={quote(target, safe='')}", status_code=303)
    forget(response)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a console path of this host, never another site."""
    if target and target.startswith(PATH) and "//" not in target and "\\" not in target:
        return target
    return HOME


def remember(request: Request, response: Response, session: Session) -> None:
    settings = services(request).settings.console
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=settings.session_max_s,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
