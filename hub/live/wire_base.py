"""The WebSocket connection under :mod:`hub.live.wire`: framing, close handshake, keep-alive.

The ``websockets`` library's sans-I/O protocol parses and builds the frames (as in uvicorn's own
implementation); this class is the asyncio side: one small object per connection, no queue and
no event (received messages wait in a list, a paused writer on a future made only when needed),
and uvicorn's behaviour otherwise: one message read at a time, a ping every
``ws_ping_interval`` that fails the connection with 1011 when the last one was not answered,
1012 when the server shuts down, and the transport closed 10 s after our close frame at the latest.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from hub.live.conn import Client

_LOG = logging.getLogger("uvicorn.error")
CLOSE_TIMEOUT_S = 10.0
GOING_AWAY = 1012  # the server restarts
INTERNAL_ERROR = 1011
INVALID_DATA = 1007


class WireConnection(asyncio.Protocol):
    """A server-side WebSocket connection on an asyncio transport (handed over by uvicorn)."""

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

    def writable(self) -> bool:
        return not self.paused and not self.close_sent and not self.disconnected

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

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments, self._fragments_text = [bytes(frame.data)], frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
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
