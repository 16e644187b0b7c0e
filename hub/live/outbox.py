"""A socket's bounded send queue that coalesces courier positions.

The fan-out never waits for a socket: it drops messages into the socket's outbox and
moves on. Once a socket is half its bound behind, a newer courier position replaces
the one still waiting for the same shipment (a recipient wants where the courier is, not where it
was). Anything else that would grow the queue past its bound marks the outbox
overflowed, and the socket is closed as too slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    offset: str
    event_id: str
    text: str
    coalesce_key: str | None = None  # messages with the same key replace each other while queued


class Outbox:
    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self.overflowed = False
        self.coalesced = 0
        self._pending: dict[int, Message] = {}
        self._slots: dict[str, int] = {}
        self._next_slot = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, message: Message) -> None:
        if self.overflowed:
            return
        lagging = len(self._pending) >= self.max_messages // 2
        slot = self._slots.get(message.coalesce_key) if message.coalesce_key and lagging else None
        if slot is not None and slot in self._pending:
            self._pending[slot] = message
            self.coalesced += 1
            return
        if len(self._pending) >= self.max_messages:
            self.overflowed = True
            self._pending.clear()
            self._ready.set()
            return
        self._pending[self._next_slot] = message
        if message.coalesce_key:
            self._slots[message.coalesce_key] = self._next_slot
        self._next_slot += 1
        self._ready.set()

    def keep_only(self, keep: Callable[[Message], bool]) -> None:
        """Drop queued messages the socket has already been sent another way (snapshot, replay)."""
        self._pending = {slot: m for slot, m in self._pending.items() if keep(m)}

    async def get(self) -> Message | None:
        """The next message; ``None`` once the outbox has overflowed."""
        while not self._pending and not self.overflowed:
            self._ready.clear()
            await self._ready.wait()
        if self.overflowed:
            return None
        slot = next(iter(self._pending))
        message = self._pending.pop(slot)
        if message.coalesce_key and self._slots.get(message.coalesce_key) == slot:
            del self._slots[message.coalesce_key]
        return message
