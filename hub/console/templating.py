"""Rendering console pages: one Jinja2 environment (autoescaped), one base layout, no-store answers."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from hub import providers
from hub.console.nav import NAV

if TYPE_CHECKING:
    from hub.console.auth import SignedIn

TEMPLATES_DIR = resources.files("hub.console") / "templates"
# Pages show one merchant's data: never cached by the browser or a proxy, never sniffed.
HEADERS = {"Cache-Control": "no-store"}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the test, not the page silently
    )
)
templates.env.filters["provider_name"] = providers.display_name  # "AL Services HLD", not "hld"


def render(
    request: Request,
    name: str,
    who: SignedIn | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` in the base layout; ``who`` fills the header (merchant, CSRF token)."""
    context.setdefault("section", "")
    response = templates.TemplateResponse(
        request,
        name,
        {"who": who, "nav": NAV, "csrf": who.csrf if who else "", **context},
        status_code=status_code,
        headers=HEADERS,
    )
    assert isinstance(response, HTMLResponse)
    return response


def error(request: Request, status_code: int, message: str, who: SignedIn | None = None) -> HTMLResponse:
    """A refusal as a page: its status and a sentence saying what to do."""
    return render(request, "error.html", who, status_code=status_code, message=message)
