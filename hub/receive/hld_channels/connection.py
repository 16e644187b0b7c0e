"""One Pusher WebSocket and the channels it carries, kept alive until closed.

The connection re-subscribes every wanted channel after each (re)connect and tells its
owner when a subscription succeeded, so the owner can gap-fill what was missed while
the socket was down. Keepalive is Pusher's own (``pusher:ping`` after the server's
``activity_timeout``), not WebSocket pings, because that is what Pusher servers expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import websockets
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from hub.errors import HubError
from hub.infra import metrics
from hub.receive.hld_channels.protocol import Frame, FrameError, Next, backoff_s, decode, next_step

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 1 << 20

OnEvent = Callable[[str, Frame], Awaitable[None]]
OnSubscribed = Callable[[str], None]


class PusherRefused(HubError):
    """The server refused us with a 4000-4099 code: retrying unchanged would fail the same way."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(
            f"Pusher refused the connection with code {code} ({message}); check HUB_HLD_PUSHER_KEY, "
            "HUB_HLD_PUSHER_CLUSTER / HUB_PUSHER_HOST and the app's status, then restart `hub pusher`"
        )
        self.code = code


class _Closed(Exception):
    """Ends one session with the close or error code that decides what happens next."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    def __init__(
        self,
        url: str,
        redis: Redis,
        *,
        on_event: OnEvent,
        on_subscribed: OnSubscribed,
        pong_timeout_s: float = 30.0,
        backoff_min_ms: int = 500,
        backoff_max_ms: int = 30_000,
        name: str = "pusher",
    ) -> None:
        self.url = url
        self.redis = redis
        self.name = name
        self.on_event = on_event
        self.on_subscribed = on_subscribed
        self.pong_timeout_s = pong_timeout_s
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.channels: set[str] = set()  # wanted
        self.subscribed: set[str] = set()  # confirmed on the current socket
        self.socket_id: str | None = None
        self.sessions = 0  # connections established so far
        self.refused: PusherRefused | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=self.name)
        return self._task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, PusherRefused):
                await self._task

    async def subscribe(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.add(channel)
            await self._send(Frame("pusher:subscribe", {"channel": channel}))

    async def unsubscribe(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            self.subscribed.discard(channel)
            await self._send(Frame("pusher:unsubscribe", {"channel": channel}))

    async def run(self) -> None:
        """Connect, and reconnect as the close codes say, until cancelled or refused for good."""
        attempt = 0
        while True:
            try:
                async with websockets.connect(
                    self.url, ping_interval=None, open_timeout=OPEN_TIMEOUT_S, max_size=MAX_FRAME_BYTES
                ) as ws:
                    await self._session(ws)
            except _Closed as closed:
                code, reason = closed.code, closed.reason
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                reason = exc.rcvd.reason if exc.rcvd else "connection lost"
            except (OSError, TimeoutError, WebSocketException) as exc:
                code, reason = None, f"{type(exc).__name__}: {exc}"
            finally:
                self._ws, self.socket_id = None, None
                self.subscribed.clear()
            step = next_step(code)
            await metrics.inc(self.redis, "hub_pusher_disconnects_total", reason=step.value)
            if step is Next.GIVE_UP:
                assert code is not None
                self.refused = PusherRefused(code, reason)
                log.error("%s: %s", self.name, self.refused)
                raise self.refused
            if step is Next.RECONNECT_NOW:
                attempt = 0
                log.info("%s: server asked to reconnect (%s %s)", self.name, code, reason)
                continue
            if step is Next.BACK_OFF:
                attempt = max(attempt, 3)  # over capacity: start well above the minimum
            delay_s = backoff_s(attempt, self.backoff_min_ms, self.backoff_max_ms)
            log.warning("%s: disconnected (%s %s); reconnecting in %.1f s", self.name, code, reason, delay_s)
            await asyncio.sleep(delay_s)
            attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        established = await self._receive(ws, OPEN_TIMEOUT_S)
        if established is None or established.event != "pusher:connection_established":
            self._handle_error(established)
            raise _Closed(None, f"expected pusher:connection_established, got {established}")
        info = established.decoded_data()
        info = info if isinstance(info, dict) else {}
        activity_timeout_s = float(info.get("activity_timeout") or 120)
        self._ws, self.socket_id = ws, str(info.get("socket_id") or "")
        self.sessions += 1
        await metrics.inc(self.redis, "hub_pusher_connects_total")
        for channel in sorted(self.channels):
            await ws.send(Frame("pusher:subscribe", {"channel": channel}).encode())
        while True:
            frame = await self._receive(ws, activity_timeout_s)
            if frame is None:  # quiet for activity_timeout: ask the server whether it is still there
                await ws.send(Frame("pusher:ping", {}).encode())
                frame = await self._receive(ws, self.pong_timeout_s)
                if frame is None:
                    await metrics.inc(self.redis, "hub_pusher_pong_missed_total")
                    raise _Closed(None, f"no pong within {self.pong_timeout_s} s")
            await self._dispatch(ws, frame)

    async def _receive(self, ws: ClientConnection, timeout_s: float) -> Frame | None:
        """The next frame, or None when nothing arrived within ``timeout_s``; bad frames are skipped."""
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: on 3.11 it can swallow a cancellation
                message = await ws.recv()
        except TimeoutError:
            return None
        try:
            return decode(message)
        except FrameError as exc:
            log.warning("%s: ignoring a message that is not a Pusher frame: %s", self.name, exc)
            await metrics.inc(self.redis, "hub_pusher_bad_frames_total")
            return Frame("hub:ignored")

    async def _dispatch(self, ws: ClientConnection, frame: Frame) -> None:
        if frame.event == "pusher:ping":
            await ws.send(Frame("pusher:pong", {}).encode())
        elif frame.event == "pusher_internal:subscription_succeeded" and frame.channel:
            if frame.channel in self.channels:
                self.subscribed.add(frame.channel)
                self.on_subscribed(frame.channel)
        elif frame.event == "pusher:error":
            self._handle_error(frame)
        elif frame.event == "pusher:subscription_error":
            log.error("%s: subscription to %s refused: %s", self.name, frame.channel, frame.data)
            await metrics.inc(self.redis, "hub_pusher_subscription_errors_total")
        elif frame.channel in self.channels and not frame.event.startswith(("pusher:", "pusher_internal:")):
            assert frame.channel is not None
            await self.on_event(frame.channel, frame)

    def _handle_error(self, frame: Frame | None) -> None:
        """``pusher:error`` with a 4000-4299 code ends the session the way a close code would."""
        if frame is None or frame.event != "pusher:error":
            return
        data = frame.decoded_data()
        data = data if isinstance(data, dict) else {}
        code, message = data.get("code"), str(data.get("message") or "")
        if isinstance(code, int) and next_step(code) is not Next.RETRY:
            raise _Closed(code, message)
        log.warning("%s: pusher:error %s %s", self.name, code, message)

    async def _send(self, frame: Frame) -> None:
        """Send now when connected; otherwise the next session subscribes from ``channels``."""
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame.encode())
