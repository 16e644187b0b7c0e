"""A WebSocket client that reads only when told to: the slow consumer of the tests.

Built on the ``websockets`` sans-I/O protocol over a plain socket with a small receive
buffer, so nothing reads frames behind the test's back.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

READ_TIMEOUT_S = 15.0


class StarvedClient:
    def __init__(self, host: str, port: int, path: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.setblocking(False)
        self.protocol = ClientProtocol(parse_uri(f"ws://{host}:{port}{path}"))
        self.host, self.port = host, port
        self.frames: list[Any] = []
        self.close_code: int | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, (self.host, self.port))
        self.protocol.send_request(self.protocol.connect())
        await self._flush()
        while not any(isinstance(e, Response) for e in self.frames):
            await self._read()
        self.frames = [e for e in self.frames if not isinstance(e, Response)]

    async def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self._flush()

    async def next_frame(self) -> dict[str, Any] | None:
        """The next text frame, or ``None`` once the server has closed (see ``close_code``)."""
        while True:
            while self.frames:
                event = self.frames.pop(0)
                if event.opcode is Opcode.TEXT:
                    frame: dict[str, Any] = json.loads(event.data)
                    return frame
                if event.opcode is Opcode.CLOSE:
                    self.close_code = self.protocol.close_rcvd.code if self.protocol.close_rcvd else None
                    return None
            await self._read()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), READ_TIMEOUT_S)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.frames += self.protocol.events_received()
        await self._flush()
        if not data and not self.frames:
            raise ConnectionError("the server closed the connection without a close frame")

    async def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def close(self) -> None:
        self.sock.close()
