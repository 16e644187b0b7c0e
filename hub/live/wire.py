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

import asyncio
import logging
import re
import secrets
from typing import Any, NamedTuple, Protocol

from starlette.datastructures import QueryParams
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

# The lifespan state key under which the app hands uvicorn its LiveService (see hub/api/app.py).
STATE_KEY = "hub.live"
_PUSHER_PATH = re.compile(r"/app/([^/]+)")
_LOG = logging.getLogger("uvicorn.error")
CLOSE_TIMEOUT_S = 10.0
GOING_AWAY = 1012  # the server restarts
INTERNAL_ERROR = 1011
INVALID_DATA = 1007


class Conn(Protocol):
    """What the live endpoints use of a socket: Starlette's ``WebSocket`` or :class:`LiveWebSocketProtocol`."""

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


class LiveWebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection of ``hub serve``; on a live path, also the endpoint's socket."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        extensions = []
        if config.ws_per_message_deflate:  # HUB_LIVE_COMPRESSION, as uvicorn configures it
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
                )
            ]
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=_LOG)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client = Client("unknown", 0)
        self.live: Any = None  # the LiveService, once a live path is accepted
        self._raw: bytearray | None = bytearray()  # the request, until handled (for a handover)
        self._key = ""
        self._query = ""
        self._response: Any = None
        self._inbox: list[dict[str, Any]] = []
        self._receiver: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._fragments: list[bytes] = []
        self._fragments_text = False
        self.paused = False
        self.read_paused = False
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None

    # ---- what the endpoints call (Conn) ----

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

    def writable(self) -> bool:
        return not self.paused and not self.close_sent and not self.disconnected

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

    def abort(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (a no-op once closing or closed)."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            self.conn.send_close(code, reason)
        except InvalidState:
            return
        self._flush()
        self.close_sent = True
        self._stop_ping()
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.close)

    # ---- asyncio.Protocol ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple | list) and len(peer) >= 2:
            self.client = Client(str(peer[0]), int(peer[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._stop_ping()
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._put({"type": "websocket.disconnect", "code": 1005 if self.handshake_complete else 1006})
        self.disconnected = True
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def shutdown(self) -> None:
        """uvicorn's shutdown: tell an open socket the server goes away (1012), then close."""
        self._stop_ping()
        if self.handshake_complete and not self.close_sent and not self.disconnected:
            self._put({"type": "websocket.disconnect", "code": GOING_AWAY})
            try:
                self.conn.send_close(GOING_AWAY)
                self._flush()
            except InvalidState:
                pass
        self.transport.close()

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

    # ---- inside ----

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
        self.client = _client(self.client, self.config, request)
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

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments, self._fragments_text = [frame.data], frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self._fragments.append(frame.data)
        elif frame.opcode is Opcode.PONG:
            if self._ping_payload is not None and bytes(frame.data) == self._ping_payload:
                self._ping_payload = None
            return
        elif frame.opcode is Opcode.CLOSE:
            self._closed_by_peer()
            return
        else:  # PING: websockets queued the pong
            return
        if frame.fin:
            data = b"".join(self._fragments)
            self._fragments = []
            self._message(data)

    def _message(self, data: bytes) -> None:
        if self.close_sent:
            return  # past our close: dropped, reads stay on for the peer's close reply
        if self._fragments_text:
            try:
                self._put({"type": "websocket.receive", "text": data.decode()})
            except UnicodeDecodeError:
                self.conn.send_close(INVALID_DATA)
                self._fail()
                return
        else:
            self._put({"type": "websocket.receive", "bytes": data})
        if not self.read_paused:  # one message at a time, as uvicorn does
            self.read_paused = True
            self.transport.pause_reading()

    def _closed_by_peer(self) -> None:
        if self.close_sent:  # the peer answered our close
            if self._close_timer is not None:
                self._close_timer.cancel()
                self._close_timer = None
            self.transport.close()
            return
        received = self.conn.close_rcvd
        code = received.code if received is not None else 1005
        reason = received.reason if received is not None else ""
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._flush()
        self.transport.close()

    def _fail(self) -> None:
        sent = self.conn.close_sent
        self._put({"type": "websocket.disconnect", "code": sent.code if sent else 1006})
        self._flush()
        self.close_sent = True
        self.transport.close()

    def _put(self, message: dict[str, Any]) -> None:
        self._inbox.append(message)
        if self._receiver is not None and not self._receiver.done():
            self._receiver.set_result(None)

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(b"".join(data))

    def _schedule_ping(self) -> None:
        interval = self.config.ws_ping_interval
        if interval:
            self._ping_timer = self.loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        """Protocol keep-alive, as uvicorn's: a ping each interval; no pong by the next one fails 1011."""
        self._ping_timer = None
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        if self._ping_payload is not None and self.config.ws_ping_timeout:
            self.conn.fail(INTERNAL_ERROR, "keepalive ping timeout")
            self._fail()
            return
        self._ping_payload = secrets.token_bytes(4)
        self.conn.send_ping(self._ping_payload)
        self._flush()
        self._schedule_ping()

    def _stop_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None


def _client(peer: Client, config: Any, request: Request) -> Client:
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
