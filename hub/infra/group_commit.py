"""Group commit: callers that arrive while a write is in flight share the next one.

Under load this turns N concurrent requests into one pipeline round trip instead of N,
which is most of what a Python process can save on Redis I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Feeds ``write`` every item submitted meanwhile; ``write`` returns one result per item, in order."""

    def __init__(self, write: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._write = write
        self._pending: list[tuple[list[Item], asyncio.Future[list[Result]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, items: list[Item]) -> list[Result]:
        """Wait for the results of ``items`` from the next write; the first waiter starts the writer."""
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([item for items, _ in batch for item in items])
            except Exception as exc:  # every waiter learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            offset = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(results[offset : offset + len(items)])
                offset += len(items)
