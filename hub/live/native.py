"""The native live protocol at ``/v1/live``: JSON text frames, one subscription per socket.

The client's first frame subscribes, by tracking token or by merchant credential,
optionally with ``since``, the offset of the last event it saw::

    {"type": "subscribe", "tracking_token": "..."}
    {"type": "subscribe", "token": "<API key or live token>", "since": "1700000000000-0"}

The server answers ``subscribed`` (with ``recovered`` true or false when ``since`` was
given), then a ``snapshot`` unless every missed event could be replayed, then one
``event`` frame per event, each with its ``offset``. ``ping`` frames keep idle sockets
alive; a client may send ``ping`` and is answered ``pong``. Refusals are an ``error``
frame followed by a close with a code from :mod:`hub.live.access`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any

from starlette.websockets import WebSocketDisconnect

from hub.live import access, frames, history, offsets, service, views
from hub.live.access import Refused, Scope
from hub.live.conn import Conn
from hub.live.fanout import Published
from hub.live.limits import TooManyConnections
from hub.live.send_queue import Message, SendQueue
from hub.model import safejson

PROTOCOL = "native"
SUBSCRIBE_TIMEOUT_S = 10.0
MAX_FRAME_CHARS = 4096
SHUT_MESSAGES = {
    access.MERCHANT_DISABLED: "this merchant is disabled by the operator",
    service.KEY_REVOKED: "the API key this socket was opened with was revoked",
}


async def endpoint(websocket: Conn) -> None:
    live = service.of(websocket)
    await websocket.accept()
    try:
        request = await _subscribe_request(websocket, frames.limits(live.settings, MAX_FRAME_CHARS))
        async with live.subscribing:
            if "tracking_token" in request:
                scope = await access.by_tracking_token(live.redis, request["tracking_token"])
            else:
                scope = await access.by_credential(live.redis, request.get("token"))
        access.check_enabled(live.gate, scope)
        since = request.get("since")
        if since is not None and not offsets.valid(since):
            raise Refused(access.BAD_REQUEST, "bad_request", "since must be an offset like '1700000000000-0'")
        try:
            merchant_id = None if scope.public else scope.merchant_id
            session = _Session(websocket, live, scope)
            del scope  # the session drops the shipment once caught up; this frame must not keep it
            async with live.limits.hold(PROTOCOL, service.client_ip(websocket), merchant_id):
                await session.run(since)
        except TooManyConnections as exc:
            raise Refused(access.TOO_MANY_CONNECTIONS, "too_many_connections", str(exc)) from None
    except Refused as refused:
        live.count("hub_live_refused_total", code=refused.code)
        await _send(websocket, {"type": "error", "code": refused.code, "message": refused.message})
        await _close(websocket, refused.close_code)
    except WebSocketDisconnect:
        pass


async def _subscribe_request(websocket: Conn, frame_limits: safejson.Limits) -> dict[str, Any]:
    try:
        request = await asyncio.wait_for(frames.receive_json(websocket, frame_limits), SUBSCRIBE_TIMEOUT_S)
    except TimeoutError:
        raise Refused(access.BAD_REQUEST, "bad_request", "send a subscribe frame first") from None
    except frames.BadFrame as bad:
        raise Refused(bad.close_code, bad.code, bad.message) from None
    if not isinstance(request, dict) or request.get("type") != "subscribe":
        raise Refused(access.BAD_REQUEST, "bad_request", 'the first frame must be {"type": "subscribe", ...}')
    return request


class _Session:
    def __init__(self, websocket: Conn, live: service.LiveService, scope: Scope) -> None:
        self.websocket = websocket
        self.live = live
        self.scope = scope
        self.send_queue = SendQueue(live.settings.live.queue_max)
        self.send_queue.merchant_ids.add(scope.merchant_id)
        if scope.api_key_id is not None:
            self.send_queue.api_key_ids.add(scope.api_key_id)
        self.public = scope.public
        self.view = "native:public" if scope.public else "native:merchant"
        self.floor: tuple[int, int] | None = None  # after catch-up: live entries up to here were sent
        # hub.live.wire sockets have it, ASGI ones not
        self.write_frame = getattr(websocket, "write_frame", None)
        self.skip: set[str] = set()

    async def run(self, since: str | None) -> None:
        fanout = self.live.fanout
        await fanout.subscribe(self.scope.topic, self._deliver)
        self.live.count("hub_live_subscriptions_total", scope="public" if self.scope.public else "merchant")
        try:
            async with self.live.subscribing:
                await self._catch_up(since)
            self.scope = dataclasses.replace(self.scope, shipment=None)  # done with it: ~1.5 KiB a socket
            with self.live.registered(self.send_queue):
                await service.serve_socket(
                    self.send_queue, self._receive, self._write, direct=self.write_frame is not None
                )
        finally:
            fanout.unsubscribe(self.scope.topic, self._deliver)

    def _deliver(self, entry: Published) -> None:
        if self.floor is not None and (entry.position <= self.floor or entry.event_id in self.skip):
            return  # the process's reader lags behind what the snapshot or replay already covered
        text = entry.rendered(self.view, self._render)
        write_frame, caught_up = self.write_frame, self.floor is not None
        direct = write_frame is not None and caught_up and self.send_queue.idle()
        if direct and write_frame(entry.frame(self.view, self._render), text):  # type: ignore[misc]
            self.send_queue.sent_directly()  # no task switch, no writer woken
            self.live.sent(PROTOCOL, 1)
            return
        key = entry.shipment_id if entry.location else None
        self.send_queue.put(Message(entry.offset, entry.event_id, text, key))

    def _render(self, entry: Published) -> str:
        return json.dumps({"type": "event", "offset": entry.offset, "event": self._event_view(entry.event)})

    def _event_view(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.public:
            return views.public_event(event, self.live.settings.live.show_phones)
        return event

    async def _catch_up(self, since: str | None) -> None:
        """Replay or snapshot, then drop live messages those already covered."""
        scope_name = "shipment" if self.scope.public else "merchant"
        replay = (
            await history.missed(self.live.redis, self.live.settings, self.scope, since) if since else None
        )
        if replay is not None:
            entries, floor = replay
            await _send(self.websocket, {"type": "subscribed", "scope": scope_name, "recovered": True})
            for entry in entries:
                await self.websocket.send_text(self._render(entry))
            skip: set[str] = set()
            self.live.count("hub_live_recovered_total")
        else:
            recovered = False if since else None
            await _send(self.websocket, {"type": "subscribed", "scope": scope_name, "recovered": recovered})
            if since:
                self.live.count("hub_live_unrecovered_total")
            snap = await history.snapshot(self.live.redis, self.live.settings, self.scope)
            await _send(self.websocket, {"type": "snapshot", "offset": snap.offset, **snap.body})
            floor, skip = snap.offset, snap.event_ids
        self.floor, self.skip = offsets.key(floor), skip
        self.send_queue.keep_only(lambda m: offsets.after(m.offset, floor) and m.event_id not in skip)

    async def _write(self, messages: list[Message] | None) -> bool:
        """Send what the send queue gave; ``False`` once the socket is closed (shut, too slow)."""
        if messages is None and self.send_queue.shut_reason is not None:
            reason = self.send_queue.shut_reason
            why = SHUT_MESSAGES.get(reason, reason)
            await _send(self.websocket, {"type": "error", "code": reason, "message": why})
            await _close(self.websocket, access.FORBIDDEN)
            return False
        if messages is None:
            self.live.count("hub_live_too_slow_total")
            await _send(self.websocket, {"type": "error", "code": "too_slow", "message": "client too slow"})
            await _close(self.websocket, access.TOO_SLOW)
            return False
        if not messages:
            await _send(self.websocket, {"type": "ping"})
        self.send_queue.busy = True
        try:
            for message in messages:
                await self.websocket.send_text(message.text)
        finally:
            self.send_queue.busy = False
        self.live.sent(PROTOCOL, len(messages))
        return True

    async def _receive(self) -> None:
        frame_limits = frames.limits(self.live.settings, MAX_FRAME_CHARS)
        while True:
            try:
                frame = await frames.receive_json(self.websocket, frame_limits)
            except frames.BadFrame as bad:
                if bad.code == safejson.INVALID_JSON:
                    continue  # as ever: a frame that is not JSON is ignored once subscribed
                raise Refused(bad.close_code, bad.code, bad.message) from None
            if isinstance(frame, dict) and frame.get("type") == "ping":
                self.send_queue.put(Message(offsets.ZERO, "", json.dumps({"type": "pong"})))


async def _send(websocket: Conn, frame: dict[str, Any]) -> None:
    await websocket.send_text(json.dumps(frame))


async def _close(websocket: Conn, code: int) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the client
        await websocket.close(code)
