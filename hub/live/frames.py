"""Reading one client frame through the guarded reader (hub/model/safejson.py), for both live protocols.

Starlette's ``receive_text`` raises ``KeyError`` on a binary frame and ``json.loads`` raises
``RecursionError`` on deep nesting; here every frame is either a parsed value, a
:class:`BadFrame` saying why and which close code fits, or ``WebSocketDisconnect``.
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocketDisconnect

from hub.errors import HubError
from hub.live import access
from hub.live.conn import Conn
from hub.model import safejson
from hub.settings import Settings

BINARY_FRAME = "binary_frame"
# RFC 6455 close codes: unsupported data, invalid payload data, policy violation, message too big.
UNSUPPORTED_DATA = 1003
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
TOO_BIG = 1009

CLOSE_CODES = {
    BINARY_FRAME: UNSUPPORTED_DATA,
    safejson.TOO_LARGE: TOO_BIG,
    safejson.INVALID_UTF8: INVALID_DATA,
    safejson.LONE_SURROGATE: INVALID_DATA,
    safejson.TOO_DEEP: POLICY_VIOLATION,
    safejson.NUMBER_TOO_LONG: POLICY_VIOLATION,
    safejson.INVALID_JSON: access.BAD_REQUEST,
    safejson.WRONG_TYPE: access.BAD_REQUEST,
}


class BadFrame(HubError):
    """A frame refused; ``code`` is the reason's code and ``close_code`` the close that fits it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = CLOSE_CODES[code]


def limits(settings: Settings, max_chars: int) -> safejson.Limits:
    return safejson.Limits.of(settings, max_bytes=max_chars)


async def receive_json(websocket: Conn, frame_limits: safejson.Limits) -> Any:
    """The next frame's JSON value (any type: the caller checks its shape)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise BadFrame(BINARY_FRAME, "frames must be JSON text, not binary")
    try:
        return safejson.loads(text, frame_limits, expect=None)
    except safejson.Refusal as refused:
        raise BadFrame(refused.code, refused.message) from None
