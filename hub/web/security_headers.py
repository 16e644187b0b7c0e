"""Security headers on every HTTP answer: pages and JSON alike.

The pages (the recipient's tracking map, the merchant console) take their scripts, styles and
Leaflet from the hub itself, so the Content-Security-Policy allows our own origin plus the configured map
tile host (for images) and nothing else: an injected script, style or beacon has nowhere to
load from or talk to. ``Referrer-Policy: no-referrer`` rather than
``strict-origin-when-cross-origin``: the tracking page's URL *is* a bearer secret (the token),
nothing the hub serves needs a Referer, and no-referrer also keeps it out of same-origin logs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def tile_source(tile_url: str) -> str | None:
    """The CSP source of the map tiles: their origin, ``{s}``-style subdomains as ``*.``.

    None for no tiles, or tiles served by the hub itself (``'self'`` covers them)."""
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc.rpartition("@")[2].lower()
    first, dot, rest = host.partition(".")
    if "{" in first:
        host = f"*.{rest}" if dot and "{" not in rest else ""
    if not host or "{" in host or not host.isascii():
        return f"{parts.scheme}:"  # a template CSP cannot express: the scheme at least
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str) -> str:
    tiles = tile_source(tile_url)
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(filter(None, ["'self'", "data:", tiles])),  # data: Leaflet's blank tile
        "connect-src": "'self'",  # the JSON view and the /v1/live WebSocket (same host)
        "base-uri": "'none'",
        "form-action": "'self'",  # the console's forms post to the hub itself, nowhere else
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def headers(tile_url: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(tile_url).encode("latin-1")),
        (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


class SecurityHeaders:
    """Pure ASGI middleware; a WebSocket's send is not wrapped (its frames carry no headers)."""

    def __init__(self, app: ASGIApp, tile_url: str) -> None:
        self.app = app
        self.headers = headers(tile_url)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message["headers"] = [*kept, *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
