"""What the live endpoints need of a socket, whichever server runs it, and the pieces shared by both.

:class:`Conn` is satisfied by Starlette's ``WebSocket`` (any ASGI server) and by
:class:`hub.live.wire.LiveWebSocketProtocol` (``hub serve``).
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple, Protocol

from starlette.datastructures import QueryParams
from websockets.http11 import Request


class Conn(Protocol):
    """What the live endpoints use of a socket: Starlette's ``WebSocket`` or a live protocol here."""

    @property
    def client(self) -> Any: ...
    @property
    def path_params(self) -> dict[str, Any]: ...
    @property
    def query_params(self) -> QueryParams: ...
    async def accept(self) -> None: ...
    async def receive(self) -> Any: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Client(NamedTuple):
    host: str
    port: int


def text_frame(text: str) -> bytes:
    """An unmasked, unfragmented text frame as a server sends it (RFC 6455 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def client_behind_proxy(peer: Client, config: Any, request: Request) -> Client:
    """The peer, or with ``proxy_headers`` the client a trusted proxy names (as uvicorn's middleware)."""
    forwarded = request.headers.get("X-Forwarded-For")
    if not forwarded or not config.proxy_headers:
        return peer
    allowed = config.forwarded_allow_ips
    trusted = {h.strip() for h in (allowed.split(",") if isinstance(allowed, str) else allowed or [])}
    if "*" not in trusted and peer.host not in trusted:
        return peer
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if "*" in trusted:
        return Client(hops[0], 0) if hops else peer
    untrusted = [h for h in hops if h not in trusted]
    return Client(untrusted[-1], 0) if untrusted else peer
