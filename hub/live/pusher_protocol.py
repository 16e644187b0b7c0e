"""Pusher Channels protocol 7 at ``/app/{key}``, so ``pusher-js`` front ends can point at the hub.

Channels: ``shipment-{tracking_token}`` (public, the recipient's view) and
``private-merchant-{merchant_id}`` (authorized by :mod:`hub.live.pusher_auth`, the
merchant's view). Events are named like the normalized event types; their ``data`` is
the CloudEvent as a JSON string, as the protocol wants. Pusher has no replay: a
reconnecting ``pusher-js`` client gets live events only (use ``/v1/live`` for that).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect

from hub import keys
from hub.live import access, frames, service, views
from hub.live.access import Refused, Scope
from hub.live.conn import Conn
from hub.live.fanout import Published
from hub.live.limits import TooManyConnections
from hub.live.pusher_auth import MERCHANT_CHANNEL_PREFIX, SHIPMENT_CHANNEL_PREFIX, InvalidSignature, verify
from hub.live.send_queue import Message, SendQueue

PROTOCOL = "pusher"
PUSHER_PROTOCOL = 7
ACTIVITY_TIMEOUT_S = 120
MAX_FRAME_CHARS = 10_000
MAX_CHANNELS = 100
# Close codes from the Pusher protocol.
APP_DOES_NOT_EXIST = 4001
UNSUPPORTED_PROTOCOL = 4007
OVER_CAPACITY = 4100  # clients reconnect after backing off
UNAUTHORIZED = 4009  # a channel's merchant was disabled: pusher-js does not reconnect (4000-4099)


async def endpoint(websocket: Conn) -> None:
    live = service.of(websocket)
    await websocket.accept()
    if websocket.path_params["key"] != live.settings.live.pusher_key:
        return await _refuse(websocket, APP_DOES_NOT_EXIST, "App key not in this hub")
    if websocket.query_params.get("protocol", str(PUSHER_PROTOCOL)) != str(PUSHER_PROTOCOL):
        return await _refuse(websocket, UNSUPPORTED_PROTOCOL, f"Only protocol {PUSHER_PROTOCOL} is supported")
    try:
        async with live.limits.hold(PROTOCOL, service.client_ip(websocket)):
            await _Connection(websocket, live).run()
    except TooManyConnections as exc:
        await _refuse(websocket, OVER_CAPACITY, str(exc))
    except WebSocketDisconnect:
        pass
    return None


class _Connection:
    def __init__(self, websocket: Conn, live: service.LiveService) -> None:
        self.websocket = websocket
        self.live = live
        self.socket_id = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"
        self.send_queue = SendQueue(live.settings.live.queue_max)
        self.channels: dict[
            str, tuple[str, Callable[[Published], None]]
        ] = {}  # channel -> (topic, subscriber)
        self.merchants: dict[str, str] = {}  # channel -> the merchant whose data it carries

    async def run(self) -> None:
        data = {"socket_id": self.socket_id, "activity_timeout": ACTIVITY_TIMEOUT_S}
        await self._send({"event": "pusher:connection_established", "data": json.dumps(data)})
        try:
            with self.live.registered(self.send_queue):
                direct = getattr(self.websocket, "write_frame", None) is not None
                await service.serve_socket(self.send_queue, self._receive, self._write, direct)
        finally:
            for topic, subscriber in self.channels.values():
                self.live.fanout.unsubscribe(topic, subscriber)

    async def _receive(self) -> None:
        frame_limits = frames.limits(self.live.settings, MAX_FRAME_CHARS)
        while True:
            try:
                frame = await frames.receive_json(self.websocket, frame_limits)
            except frames.BadFrame as bad:
                if bad.code == frames.BINARY_FRAME:
                    return await _refuse(self.websocket, bad.close_code, "Frames must be JSON text")
                self._error(f"Frames must be JSON ({bad.code}: {bad.message})", 4200)
                continue
            if not isinstance(frame, dict):
                continue
            event, data = frame.get("event"), frame.get("data")
            data = data if isinstance(data, dict) else {}
            if event == "pusher:ping":
                self._queue({"event": "pusher:pong", "data": "{}"})
            elif event == "pusher:subscribe":
                await self._subscribe(str(data.get("channel", "")), data.get("auth"))
            elif event == "pusher:unsubscribe":
                self._unsubscribe(str(data.get("channel", "")))
            elif isinstance(event, str) and event.startswith("client-"):
                self._error("Client events are not enabled on this hub", None)

    async def _subscribe(self, channel: str, auth: object) -> None:
        if channel in self.channels:
            return
        if len(self.channels) >= MAX_CHANNELS:
            return self._error(f"At most {MAX_CHANNELS} channels per connection", 4301)
        try:
            async with self.live.subscribing:
                scope = await self._scope(channel, auth)
            access.check_enabled(self.live.gate, scope)
        except (Refused, InvalidSignature, ValueError) as refused:  # ValueError: a malformed channel name
            self.live.count("hub_live_refused_total", code="pusher_subscribe")
            return self._error(str(refused), None)
        subscriber = self._subscriber(channel, scope)
        await self.live.fanout.subscribe(scope.topic, subscriber)
        self.channels[channel] = (scope.topic, subscriber)
        self.merchants[channel] = scope.merchant_id
        self.send_queue.merchant_ids = set(self.merchants.values())
        if scope.api_key_id:
            self.send_queue.api_key_ids.add(scope.api_key_id)
        self._queue({"event": "pusher_internal:subscription_succeeded", "channel": channel, "data": "{}"})
        self.live.count("hub_live_subscriptions_total", scope="pusher")
        return None

    async def _scope(self, channel: str, auth: object) -> Scope:
        if channel.startswith(SHIPMENT_CHANNEL_PREFIX):
            return await access.by_tracking_token(
                self.live.redis, channel.removeprefix(SHIPMENT_CHANNEL_PREFIX)
            )
        if channel.startswith(MERCHANT_CHANNEL_PREFIX):
            verify(self.live.settings, self.socket_id, channel, auth)
            key_id = await self.live.redis.get(keys.pusher_authorized(self.socket_id, channel))
            scope = access.merchant_scope(channel.removeprefix(MERCHANT_CHANNEL_PREFIX))
            return dataclasses.replace(scope, api_key_id=key_id or None)
        raise Refused(access.BAD_REQUEST, "bad_request", f"No such channel: {channel}")

    def _unsubscribe(self, channel: str) -> None:
        if channel in self.channels:
            topic, subscriber = self.channels.pop(channel)
            self.merchants.pop(channel, None)
            self.send_queue.merchant_ids = set(self.merchants.values())
            self.live.fanout.unsubscribe(topic, subscriber)

    def _subscriber(self, channel: str, scope: Scope) -> Callable[[Published], None]:
        show_phones = self.live.settings.live.show_phones
        public = scope.public  # the closures keep this, not the scope's shipment (~1.5 KiB a socket)

        def render(entry: Published) -> str:
            event = views.public_event(entry.event, show_phones) if public else entry.event
            return json.dumps({"event": entry.event["type"], "channel": channel, "data": json.dumps(event)})

        view = f"pusher:{channel}"

        write_frame = getattr(self.websocket, "write_frame", None)  # hub.live.wire sockets only

        def deliver(entry: Published) -> None:
            text = entry.rendered(view, render)
            if (
                write_frame is not None
                and self.send_queue.idle()
                and write_frame(entry.frame(view, render), text)
            ):
                self.send_queue.sent_directly()  # no task switch: the socket's writer is not woken
                self.live.sent(PROTOCOL, 1)
                return
            key = f"{channel}:{entry.shipment_id}" if entry.location else None
            self.send_queue.put(Message(entry.offset, entry.event_id, text, key))

        return deliver

    def _queue(self, frame: dict[str, Any]) -> None:
        self.send_queue.put(Message("0-0", "", json.dumps(frame)))

    def _error(self, message: str, code: int | None) -> None:
        self._queue({"event": "pusher:error", "data": {"message": message, "code": code}})

    async def _write(self, messages: list[Message] | None) -> bool:
        """Send what the send queue gave; ``False`` once the socket is closed (shut, too slow)."""
        if messages is None and self.send_queue.shut_reason is not None:
            await _refuse(self.websocket, UNAUTHORIZED, f"Closed: {self.send_queue.shut_reason}")
            return False
        if messages is None:
            self.live.count("hub_live_too_slow_total")
            await _refuse(self.websocket, OVER_CAPACITY, "Client too slow")
            return False
        if not messages:
            await self._send({"event": "pusher:ping", "data": "{}"})
        self.send_queue.busy = True
        try:
            for message in messages:
                await self.websocket.send_text(message.text)
        finally:
            self.send_queue.busy = False
        self.live.sent(PROTOCOL, len(messages))
        return True

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps(frame))


async def _refuse(websocket: Conn, code: int, message: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_text(
            json.dumps({"event": "pusher:error", "data": {"message": message, "code": code}})
        )
        await websocket.close(code)
