"""Group commit: callers that arrive while a write is in flight share the next one.

Under load this turns N concurrent requests into one pipeline round trip instead of N,
which is most of what a Python process can save on Redis I/O. A write that fails for
any reason but Redis being away is retried caller by caller, so one caller's bad items
(a lone surrogate Redis cannot encode) fail that caller alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from hub.infra.redis_clients import UNAVAILABLE

Item = TypeVar("Item")
Result = TypeVar("Result")
Waiter = tuple[list[Item], asyncio.Future[list[Result]]]


class GroupCommit(Generic[Item, Result]):
    """Feeds ``write`` every item submitted meanwhile; ``write`` returns one result per item, in order."""

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        shared: tuple[type[Exception], ...] = UNAVAILABLE,
    ) -> None:
        """``shared``: failures that are no caller's fault, so every waiter gets them (no retry alone)."""
        self._write = write
        self._shared = shared
        self._pending: list[tuple[list[Item], asyncio.Future[list[Result]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, items: list[Item]) -> list[Result]:
        """Wait for the results of ``items`` from the next write; the first waiter starts the writer."""
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def _write_each(
        self, batch: list[tuple[list[Item], asyncio.Future[list[Result]]]], exc: Exception
    ) -> None:
        """One caller's items (a lone surrogate, say) must not fail the others': each is written alone."""
        if len(batch) == 1:
            _fail(batch, exc)
            return
        for items, future in batch:
            try:
                results = await self._write(items)
            except Exception as alone:
                _fail([(items, future)], alone)
            else:
                if not future.done():
                    future.set_result(results)

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([item for items, _ in batch for item in items])
            except self._shared as exc:  # Redis is away (say): every waiter learns of it
                _fail(batch, exc)
                continue
            except Exception as exc:
                await self._write_each(batch, exc)
                continue
            offset = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(results[offset : offset + len(items)])
                offset += len(items)


def _fail(batch: list[tuple[list[Any], asyncio.Future[Any]]], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
