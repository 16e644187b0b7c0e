"""Live sockets served straight from uvicorn's connection, without the ASGI stack.

``hub serve`` gives uvicorn :class:`LiveWebSocketProtocol` as its WebSocket protocol. For the
live paths (``/v1/live``, ``/app/{key}``) it accepts the handshake itself (framing by the
``websockets`` library's sans-I/O protocol, as uvicorn's own implementation) and runs the
live endpoint with itself as the socket: it offers the calls the endpoints make of
Starlette's ``WebSocket`` (accept, receive, send_text, close), plus :meth:`write_now`, a
frame written in the caller's turn of the event loop (no task switch) when the transport is
not paused. Any other WebSocket path is handed, bytes and all, to uvicorn's implementation
and the ASGI app; and any other ASGI server (the tests' in-process uvicorn) serves the live
routes through Starlette with the same endpoint code.

Why (``bench/fanout.py``, docs/benchmarks.md): on the ASGI path the scope, Starlette's wrappers
and a send coroutine per frame were most of the CPU per frame, and uvicorn's per-connection
queue, events and kept handshake headers most of the memory per idle socket. This protocol
keeps one small object per socket: no queue, no event, no headers after the handshake.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import QueryParams
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import State

from hub.live.conn import client_behind_proxy
from hub.live.wire_base import _LOG, INTERNAL_ERROR, WireConnection

# The lifespan state key under which the app hands uvicorn its LiveService (see hub/api/app.py).
STATE_KEY = "hub.live"
_PUSHER_PATH = re.compile(r"/app/([^/]+)")


class LiveWebSocketProtocol(WireConnection):
    """One WebSocket connection of ``hub serve``; on a live path, also the endpoint's socket."""

    @property
    def path_params(self) -> dict[str, Any]:
        return {"key": self._key}

    @property
    def query_params(self) -> QueryParams:
        return QueryParams(self._query)

    async def accept(self) -> None:
        if self.handshake_complete or self.transport.is_closing():
            raise WebSocketDisconnect(1006)
        response, self._response = self._response, None
        del response.headers["Date"]
        for name, value in self.server_state.default_headers:
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        self.handshake_complete = True
        self.conn.send_response(response)
        self._flush()
        self._schedule_ping()

    async def receive(self) -> dict[str, Any]:
        while not self._inbox:
            if self.disconnected:
                return {"type": "websocket.disconnect", "code": 1006}
            self._receiver = self.loop.create_future()
            try:
                await self._receiver
            finally:
                self._receiver = None
        message = self._inbox.pop(0)
        if self.read_paused and not self._inbox and not self.disconnected:
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def write_frame(self, frame: bytes, text: str) -> bool:
        """:meth:`write_now` for a frame already encoded by :func:`text_frame` (once per view, for
        every socket of the view); ``text`` is used instead when an extension (deflate) is on."""
        if not self.writable():
            return False
        if self.conn.extensions or self.conn.state is not State.OPEN:
            return self.write_now(text)
        self.transport.write(frame)
        return True

    def write_now(self, text: str) -> bool:
        """Write a text frame in this turn of the loop; ``False`` (nothing written) when not writable."""
        if not self.writable():
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self._flush()
        return True

    async def send_text(self, data: str) -> None:
        while self.paused and not self.disconnected:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if not self.write_now(data):
            raise WebSocketDisconnect(1006)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.abort(code, reason or "")

    def data_received(self, data: bytes) -> None:
        if self._raw is not None:
            self._raw += data
        self.conn.receive_data(data)
        if self.conn.parser_exc is not None:
            self._fail()
            return
        for event in self.conn.events_received():
            if isinstance(event, Request):
                self._connect(event)
                if self._raw is None and self.live is None:  # handed over
                    return
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()  # pongs, close replies

    def _connect(self, request: Request) -> None:
        from hub.live import native, pusher_protocol  # they import this module's Conn

        live = self.app_state.get(STATE_KEY)
        raw_path, _, query = request.path.partition("?")
        pusher = _PUSHER_PATH.fullmatch(raw_path)
        if live is None or (raw_path != "/v1/live" and pusher is None):
            return self._hand_over()
        self._raw = None
        response = self.conn.accept(request)
        if response.status_code != 101:
            self.handshake_complete = self.close_sent = True
            self.conn.send_response(response)
            self._flush()
            self.transport.close()
            return None
        self.live, self._response, self._query = live, response, query
        self._key = pusher.group(1) if pusher else ""
        self.client = client_behind_proxy(self.client, self.config, request)
        request.headers.clear()  # websockets' parser keeps the request for the connection's life
        endpoint = pusher_protocol.endpoint if pusher else native.endpoint
        task = self.loop.create_task(self._serve(endpoint))
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)
        return None

    def _hand_over(self) -> None:
        """Another WebSocket path: uvicorn's own protocol and the ASGI app serve it."""
        raw, self._raw = bytes(self._raw or b""), None
        self.server_state.connections.discard(self)
        other = WebSocketsSansIOProtocol(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        other.connection_made(self.transport)
        self.transport.set_protocol(other)
        other.data_received(raw)

    async def _serve(self, endpoint: Any) -> None:
        try:
            await endpoint(self)
        except WebSocketDisconnect:
            pass
        except Exception:
            _LOG.exception("Exception in a live socket")
            if not self.handshake_complete:
                self.transport.close()
            self.abort(INTERNAL_ERROR)
        if self._close_timer is None:
            self.transport.close()
