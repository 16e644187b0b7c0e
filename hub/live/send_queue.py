"""A socket's bounded send queue that coalesces courier positions.

The fan-out never waits for a socket: it drops messages into the socket's send_queue and
moves on. Once a socket is half its bound behind, a newer courier position replaces
the one still waiting for the same shipment (a recipient wants where the courier is, not where it
was). Anything else that would grow the queue past its bound marks the send_queue
overflowed, and the socket is closed as too slow.

The writer takes everything queued at once and is woken through one future, with no
timer of its own: with thousands of sockets in a process, an ``asyncio.Event`` and a
``wait_for`` per message were a fifth of the fan-out's CPU. Keep-alive pings come from one
sweep per process (:meth:`poke` wakes an idle writer with nothing to send).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple


class Message(NamedTuple):
    offset: str
    event_id: str
    text: str
    coalesce_key: str | None = None  # messages with the same key replace each other while queued


class SendQueue:
    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self.overflowed = False
        self.coalesced = 0
        self._pending: dict[int, Message] = {}
        self._slots: dict[str, int] = {}
        self._next_slot = 0
        self._waiter: asyncio.Future[None] | None = None
        self.last_taken_s = time.monotonic()
        self.merchant_ids: set[str] = set()  # whose data this socket receives (closed if one is disabled)
        self.api_key_ids: set[str] = set()  # the API key it was opened with (closed if it is revoked)
        self.shut_reason: str | None = None
        self.busy = False  # the writer holds taken messages it has not sent yet
        self.poked = False  # a writer was asked to look (and send a ping if nothing is queued)
        self.on_work: Callable[[], None] | None = None  # starts a writer on demand (hub.live.wire sockets)

    def idle(self) -> bool:
        """Nothing queued or being sent: a new message may go straight to the socket, in order."""
        return not self._pending and not self.busy and not self.overflowed

    def sent_directly(self) -> None:
        """A message went straight to the socket (it counts as activity for the keep-alive sweep)."""
        self.last_taken_s = time.monotonic()

    def __len__(self) -> int:
        return len(self._pending)

    def shut(self, reason: str) -> None:
        """End the socket: its writer's :meth:`take` returns ``None`` with ``shut_reason`` set."""
        self.shut_reason = reason
        self.overflowed = True
        self._pending.clear()
        self.poke()

    def put(self, message: Message) -> None:
        if self.overflowed:
            return
        key = message.coalesce_key
        if key is not None and len(self._pending) >= self.max_messages // 2:
            slot = self._slots.get(key)
            if slot is not None and slot in self._pending:
                self._pending[slot] = message
                self.coalesced += 1
                return
        if len(self._pending) >= self.max_messages:
            self.overflowed = True
            self._pending.clear()
        else:
            self._pending[self._next_slot] = message
            if key is not None:
                self._slots[key] = self._next_slot
            self._next_slot += 1
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        elif self.on_work is not None:
            self.on_work()

    def has_work(self) -> bool:
        """Whether a writer has something to do: messages, a ping, or a close."""
        return bool(self._pending) or self.overflowed or self.poked

    def take_now(self) -> list[Message] | None:
        """:meth:`take` without waiting: ``[]`` when there is nothing (a ping, when poked)."""
        self.poked = False
        self.last_taken_s = time.monotonic()
        if self.overflowed:
            return None
        messages = list(self._pending.values())
        self._pending.clear()
        self._slots.clear()
        return messages

    def keep_only(self, keep: Callable[[Message], bool]) -> None:
        """Drop queued messages the socket has already been sent another way (snapshot, replay)."""
        self._pending = {slot: m for slot, m in self._pending.items() if keep(m)}

    def poke(self) -> None:
        """Wake a waiting writer even with nothing queued (its :meth:`take` returns ``[]``)."""
        self.poked = True
        self._wake()

    async def take(self) -> list[Message] | None:
        """Everything queued, oldest first; ``[]`` when poked; ``None`` once overflowed or shut."""
        if not self._pending and not self.overflowed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.take_now()


class SendQueues:
    """Every send_queue of the process, for one keep-alive sweep instead of a timer per socket."""

    def __init__(self) -> None:
        self._all: set[SendQueue] = set()

    def __len__(self) -> int:
        return len(self._all)

    def add(self, send_queue: SendQueue) -> None:
        self._all.add(send_queue)

    def discard(self, send_queue: SendQueue) -> None:
        self._all.discard(send_queue)

    def __iter__(self) -> Iterator[SendQueue]:
        return iter(tuple(self._all))

    def poke_idle(self, idle_s: float) -> None:
        """Wake the writers idle for ``idle_s`` or more, so they send a ping."""
        since = time.monotonic() - idle_s
        for send_queue in self._all:
            if send_queue.last_taken_s <= since:
                send_queue.poke()

    async def keep_alive(self, idle_s: float) -> None:
        """Sweep forever: each socket is pinged after ``idle_s`` to ``1.5 * idle_s`` without a message."""
        while True:
            await asyncio.sleep(idle_s / 2)
            self.poke_idle(idle_s)
