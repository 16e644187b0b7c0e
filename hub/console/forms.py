"""Reading the console's form posts: URL-encoded, capped, strictly UTF-8, each field given once.

Starlette's own ``request.form()`` needs python-multipart and decodes leniently; the console's
forms are a few short fields, so they are read here with the hub's capped body reader and
refused precisely (a :class:`FormError` becomes a page with the reason, never a 5xx).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from hub.web.bodies import BodyTooLarge, read_capped
from hub.web.state import services

MAX_FIELDS = 20
FORM_TYPE = "application/x-www-form-urlencoded"


class FormError(Exception):
    """A form the console refuses; ``status`` is the answer's HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise FormError(415, f"send the form as {FORM_TYPE}")
    max_bytes = services(request).settings.console.max_form_bytes
    try:
        body = await read_capped(request, max_bytes)
    except BodyTooLarge:
        raise FormError(413, f"the form is over the {max_bytes}-byte limit") from None
    return parse_form(body)


def parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("ascii")  # a URL-encoded body is ASCII; its escapes carry the UTF-8
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeDecodeError:
        raise FormError(400, "the form is not valid URL-encoded UTF-8") from None
    except ValueError:
        raise FormError(400, f"the form has more than {MAX_FIELDS} fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormError(400, f"the field {name!r} is given more than once")
        if not value.isprintable():
            raise FormError(400, f"the field {name!r} must be printable text")
        form[name] = value
    return form


def text(value: str | None, max_chars: int) -> str | None:
    """A query or form value fit to search by: stripped, printable, at most ``max_chars``; else None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_chars or not value.isprintable() or "\ufffd" in value:
        raise FormError(422, f"a search term is 1 to {max_chars} printable characters")
    return value
