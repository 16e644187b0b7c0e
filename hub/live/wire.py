"""Live sockets served straight from uvicorn's WebSocket protocol, without the ASGI stack.

``hub serve`` gives uvicorn :class:`LiveWebSocketProtocol` as its WebSocket protocol. For the
live paths (``/v1/live``, ``/app/{key}``) it accepts the handshake itself and runs the live
endpoint on a :class:`Socket`, which speaks the few calls the endpoints make of Starlette's
``WebSocket`` (accept, receive, send_text, close), plus :meth:`Socket.write_now`: a frame
written in the caller's turn of the event loop, with no task switch, when nothing is queued
before it and the transport is not paused. Every other WebSocket path goes through the ASGI
app as before, and any other ASGI server (tests' in-process uvicorn, TestClient) serves the
live routes through Starlette with the same endpoint code.

Why: measured with ``bench/fanout.py`` (docs/benchmarks.md), the ASGI path (scope, Starlette's
middleware and exception wrappers, a send coroutine and a writer task wake-up per frame) was
most of the hub's CPU per frame, and its objects most of the memory per socket. Framing,
handshakes, close handshakes, protocol pings and back-pressure stay uvicorn's and websockets'.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Protocol

from starlette.datastructures import QueryParams
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

# The lifespan state key under which the app hands uvicorn its LiveService (see hub/api/app.py).
STATE_KEY = "hub.live"
_PUSHER_PATH = re.compile(r"/app/([^/]+)")


class Conn(Protocol):
    """What the live endpoints use of a socket: Starlette's ``WebSocket`` or :class:`Socket`."""

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


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, serving the live paths without the ASGI app."""

    def handle_connect(self, event: Request) -> None:
        from hub.live import native, pusher_protocol  # the endpoints import this module's Socket

        live = self.app_state.get(STATE_KEY)
        raw_path, _, query = event.path.partition("?")
        pusher = _PUSHER_PATH.fullmatch(raw_path)
        if live is None or (raw_path != "/v1/live" and pusher is None):
            return super().handle_connect(event)
        self.request = event
        self.response = self.conn.accept(event)
        self.handshake_initiated = True
        if self.response.status_code != 101:
            self.handshake_complete = True
            self.close_sent = True
            self.conn.send_response(self.response)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
            return None
        path_params = {"key": pusher.group(1)} if pusher else {}
        socket = Socket(self, live, path_params, query, _client(self, event))
        endpoint = pusher_protocol.endpoint if pusher else native.endpoint
        task = self.loop.create_task(self._serve(endpoint, socket))
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)
        return None

    async def _serve(self, endpoint: Any, socket: Socket) -> None:
        try:
            await endpoint(socket)
        except WebSocketDisconnect:
            pass
        except BaseException:
            self.logger.exception("Exception in a live socket\n")
            socket.abort(1011)
        if self.close_timer is None:
            self.transport.close()


def _client(protocol: WebSocketsSansIOProtocol, request: Request) -> Client:
    """The peer, or with ``proxy_headers`` the client a trusted proxy names (as uvicorn's middleware)."""
    host, port = protocol.client or ("unknown", 0)
    config = protocol.config
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and config.proxy_headers:
        allowed = config.forwarded_allow_ips
        trusted = {h.strip() for h in (allowed.split(",") if isinstance(allowed, str) else allowed or [])}
        if "*" in trusted or host in trusted:
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            untrusted = [h for h in hops if h not in trusted]
            if "*" in trusted and hops:
                return Client(hops[0], 0)
            if untrusted:
                return Client(untrusted[-1], 0)
    return Client(host, port)


class Socket:
    """One live socket on :class:`LiveWebSocketProtocol`: the calls the live endpoints make."""

    __slots__ = ("_protocol", "client", "live", "path_params", "query_params")

    def __init__(
        self,
        protocol: WebSocketsSansIOProtocol,
        live: Any,
        path_params: dict[str, str],
        query: str,
        client: Client,
    ) -> None:
        self._protocol = protocol
        self.live = live
        self.path_params = path_params
        self.query_params = QueryParams(query)
        self.client = client

    async def accept(self) -> None:
        protocol = self._protocol
        if protocol.handshake_complete or protocol.transport.is_closing():
            raise WebSocketDisconnect(1006)
        del protocol.response.headers["Date"]
        for name, value in protocol.default_headers:
            protocol.response.headers[name.decode("latin-1")] = value.decode("latin-1")
        protocol.handshake_complete = True
        protocol.conn.send_response(protocol.response)
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.start_keepalive()

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = await self._protocol.receive()  # type: ignore[assignment]
        return message

    def writable(self) -> bool:
        """Whether a frame written now goes straight to the transport (not paused, not closing)."""
        protocol = self._protocol
        return protocol.writable.is_set() and not protocol.close_sent and not protocol.disconnected

    def write_now(self, text: str) -> bool:
        """Write a text frame in this turn of the loop; ``False`` (nothing written) when not writable."""
        if not self.writable():
            return False
        protocol = self._protocol
        try:
            protocol.conn.send_text(text.encode())
        except InvalidState:
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True

    async def send_text(self, data: str) -> None:
        protocol = self._protocol
        await protocol.writable.wait()
        if protocol.disconnected or protocol.close_sent:
            raise WebSocketDisconnect(1006)
        if not self.write_now(data):
            raise WebSocketDisconnect(1006)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.abort(code, reason or "")

    def abort(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (a no-op once closing or closed)."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected or protocol.transport.is_closing():
            return
        protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            protocol.conn.send_close(code, reason)
        except InvalidState:
            return
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        if protocol.read_paused:
            protocol.read_paused = False
            protocol.transport.resume_reading()
        protocol.close_timer = protocol.loop.call_later(protocol.close_timeout, protocol.transport.close)
