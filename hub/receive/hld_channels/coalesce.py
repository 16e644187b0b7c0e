"""Position throttling: a burst of GPS fixes must not flood the streams.

The first position of a shipment passes at once; later ones within the interval only
replace the one waiting, which is emitted when the interval ends. Status changes never
come through here, so none is ever dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Emit = Callable[[str, bytes], Awaitable[None]]


class Coalescer:
    def __init__(self, interval_s: float, emit: Emit) -> None:
        self.interval_s = interval_s
        self.emit = emit
        self.coalesced = 0  # positions replaced by a later one before they were emitted
        self._last_emit_s: dict[str, float] = {}
        self._waiting: dict[str, bytes] = {}
        self._timers: set[asyncio.Task[None]] = set()

    async def offer(self, token: str, body: bytes) -> None:
        if self.interval_s <= 0:
            await self.emit(token, body)
            return
        if token in self._waiting:
            self._waiting[token] = body
            self.coalesced += 1
            return
        now_s = time.monotonic()
        due_s = self._last_emit_s.get(token, -self.interval_s) + self.interval_s
        if now_s >= due_s:
            self._last_emit_s[token] = now_s
            await self.emit(token, body)
            return
        self._waiting[token] = body
        timer = asyncio.create_task(self._flush_later(token, due_s - now_s))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _flush_later(self, token: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        body = self._waiting.pop(token, None)
        if body is not None:
            self._last_emit_s[token] = time.monotonic()
            await self.emit(token, body)

    def forget(self, token: str) -> None:
        self._last_emit_s.pop(token, None)

    async def close(self) -> None:
        """Emit what is waiting (nothing is lost on shutdown) and stop the timers."""
        for timer in list(self._timers):
            timer.cancel()
        waiting, self._waiting = self._waiting, {}
        for token, body in waiting.items():
            await self.emit(token, body)
