"""A merchant's live subscriber on ``/v1/live`` that reconnects with its last offset, as a client should."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

RECV_TIMEOUT_S = 30.0
RECONNECT_WAIT_S = 0.2


@dataclass
class LiveSubscriber:
    ws_url: str
    token: str
    offsets: list[str] = field(default_factory=list)  # every event frame's offset, as received
    connects: int = 0
    unrecovered: int = 0  # reconnects answered with a fresh snapshot instead of what was missed
    _subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def subscribed(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._subscribed.wait(), timeout_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: subscribe (with ``since`` after the first time), read, reconnect when cut off."""
        while not stop.is_set():
            with contextlib.suppress(OSError, WebSocketException, TimeoutError):
                await self._session(stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_WAIT_S)

    async def _session(self, stop: asyncio.Event) -> None:
        async with connect(f"{self.ws_url}/v1/live", open_timeout=10, close_timeout=2) as ws:
            request: dict[str, str] = {"type": "subscribe", "token": self.token}
            if self.offsets:
                request["since"] = self.offsets[-1]
            await ws.send(json.dumps(request))
            self.connects += 1
            stopper = asyncio.ensure_future(stop.wait())
            try:
                while not stop.is_set():
                    receiving = asyncio.ensure_future(ws.recv())
                    done, _ = await asyncio.wait(
                        {receiving, stopper}, timeout=RECV_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiving not in done:
                        receiving.cancel()
                        return
                    self._frame(json.loads(receiving.result()))
            finally:
                stopper.cancel()

    def _frame(self, frame: dict[str, object]) -> None:
        if frame["type"] == "subscribed":
            if frame.get("recovered") is False:
                self.unrecovered += 1
            self._subscribed.set()
        elif frame["type"] == "event":
            self.offsets.append(str(frame["offset"]))
