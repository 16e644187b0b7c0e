"""A Pusher Channels emulator speaking HLD's wire format, for tests, benchmarks and the demo.

It speaks protocol 7 to WebSocket clients at ``/app/{key}``, accepts triggers on the
Pusher HTTP API (``POST /apps/{app_id}/events`` and ``/batch_events``) signed the way
Pusher signs them, so the real ``pusher`` library can drive it, and plays HLD's side:
each event triggered on ``hld.order.{token}`` is also recorded in that order's public
tracking response (``GET /api/v1/track/{token}``), which the hub gap-fills from.

Faults are switched over HTTP under ``/_emulator/`` (drop connections, an outage that
refuses handshakes, withheld pongs, any ``pusher:error`` code) so that tests in another
process can use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.receive.hld_channels.protocol import hld_token

MAX_SIGNATURE_AGE_S = 600  # Pusher refuses requests whose auth_timestamp is further off than this


@dataclass
class _Client:
    websocket: WebSocket
    socket_id: str
    channels: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            with contextlib.suppress(Exception):  # a client gone mid-send is the client's problem
                await self.websocket.send_text(json.dumps(frame))


@dataclass
class _Order:
    """HLD's view of one order, built from the events triggered on its channel."""

    token: str
    status: int | str = 1
    status_text: str = "OrderPlaced"
    created_at: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    location: dict[str, Any] | None = None
    executive_id: str | None = None

    def record(self, event: str, data: dict[str, Any]) -> None:
        at = str(data.get("timestamp") or "")
        self.created_at = self.created_at or at or None
        if event == "hld.order.status_changed":
            entry = data.get("tracking_entry") or {}
            order = data.get("order") or {}
            self.status = entry.get("status", order.get("status", self.status))
            self.status_text = str(order.get("status_text") or "")
            self.updates.append({"status": self.status, "timestamp": entry.get("timestamp") or at})
        elif event == "executive.location_updated":
            self.location = data.get("location")
            self.executive_id = data.get("executive_id")

    def tracking(self) -> dict[str, Any]:
        return {
            "success": True,
            "data": {
                "order_id": f"HLD-{self.token[:12]}",
                "status": self.status,
                "status_text": self.status_text,
                "created_at": self.created_at,
                "completed_at": None,
                "delivery_eta": None,
                "executive": {
                    "name": "Emulated Executive",
                    "mobile": "9876543212",
                    "current_location": self.location,
                },
                "real_time_updates": list(self.updates),
            },
        }


class PusherEmulator:
    def __init__(
        self, app_id: str = "1", key: str = "emulator-key", secret: str = "emulator-secret", *,  # noqa: S107
        activity_timeout_s: int = 120,
    ) -> None:  # fmt: skip
        self.app_id, self.key, self.secret = app_id, key, secret
        self.activity_timeout_s = activity_timeout_s
        self.clients: dict[str, _Client] = {}
        self.orders: dict[str, _Order] = {}
        self.outage = False
        self.withhold_pongs = False
        self.triggered = 0
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                WebSocketRoute("/app/{key}", self._websocket),
                Route("/apps/{app_id}/events", self._trigger, methods=["POST"]),
                Route("/apps/{app_id}/batch_events", self._trigger_batch, methods=["POST"]),
                Route("/api/v1/track/{token}", self._track, methods=["GET"]),
                Route("/_emulator/state", self._state, methods=["GET"]),
                Route("/_emulator/drop", self._drop, methods=["POST"]),
                Route("/_emulator/outage", self._outage, methods=["POST"]),
                Route("/_emulator/pongs", self._pongs, methods=["POST"]),
                Route("/_emulator/error", self._error, methods=["POST"]),
            ]
        )

    # --- protocol 7 ---

    async def _websocket(self, websocket: WebSocket) -> None:
        if self.outage:
            await websocket.close(code=1013)  # before accept: the handshake is refused (HTTP 403)
            return
        await websocket.accept()
        if websocket.path_params["key"] != self.key:
            error = {"code": 4001, "message": f"App key {websocket.path_params['key']} not in this cluster"}
            await websocket.send_text(json.dumps({"event": "pusher:error", "data": error}))
            await websocket.close(code=4001)
            return
        client = _Client(websocket, f"{next(self._ids)}.{time.monotonic_ns() % 1_000_000}")
        self.clients[client.socket_id] = client
        established = {"socket_id": client.socket_id, "activity_timeout": self.activity_timeout_s}
        await client.send({"event": "pusher:connection_established", "data": json.dumps(established)})
        try:
            while True:
                await self._handle(client, json.loads(await websocket.receive_text()))
        except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
            pass
        finally:
            self.clients.pop(client.socket_id, None)

    async def _handle(self, client: _Client, frame: dict[str, Any]) -> None:
        event, data = frame.get("event"), frame.get("data") or {}
        if event == "pusher:ping" and not self.withhold_pongs:
            await client.send({"event": "pusher:pong", "data": {}})
        elif event == "pusher:subscribe":
            client.channels.add(data["channel"])
            await client.send(
                {"event": "pusher_internal:subscription_succeeded", "channel": data["channel"], "data": "{}"}
            )
        elif event == "pusher:unsubscribe":
            client.channels.discard(data["channel"])

    async def publish(self, channels: list[str], name: str, data: str) -> None:
        """What a trigger does: record the HLD side, then send to every subscribed socket."""
        self.triggered += 1
        for channel in channels:
            token = hld_token(channel)
            if token is not None:
                with contextlib.suppress(ValueError, AttributeError):
                    self.orders.setdefault(token, _Order(token)).record(name, json.loads(data))
            frame = {"event": name, "channel": channel, "data": data}
            for client in list(self.clients.values()):
                if channel in client.channels:
                    await client.send(frame)

    # --- the HTTP API, signed like Pusher's ---

    async def _trigger(self, request: Request) -> Response:
        body, refusal = await self._verified(request)
        if refusal is not None:
            return refusal
        await self.publish(list(body["channels"]), str(body["name"]), str(body["data"]))
        return JSONResponse({})

    async def _trigger_batch(self, request: Request) -> Response:
        body, refusal = await self._verified(request)
        if refusal is not None:
            return refusal
        for event in body["batch"]:
            await self.publish([str(event["channel"])], str(event["name"]), str(event["data"]))
        return JSONResponse({})

    async def _verified(self, request: Request) -> tuple[Any, Response | None]:
        """Pusher's auth: HMAC-SHA256 over ``METHOD\\npath\\nsorted query`` and the body's MD5."""
        query = dict(request.query_params)
        signature = query.pop("auth_signature", "")
        raw = await request.body()
        if query.get("auth_key") != self.key or request.path_params["app_id"] != self.app_id:
            return None, JSONResponse({"error": "unknown app or key"}, status_code=401)
        if not hmac.compare_digest(query.get("body_md5", ""), hashlib.md5(raw).hexdigest()):  # noqa: S324
            return None, JSONResponse({"error": "body_md5 does not match the body"}, status_code=401)
        if abs(time.time() - float(query.get("auth_timestamp") or 0)) > MAX_SIGNATURE_AGE_S:
            return None, JSONResponse({"error": "auth_timestamp is too far off"}, status_code=401)
        signed = "\n".join(
            [request.method, request.url.path, "&".join(f"{k}={v}" for k, v in sorted(query.items()))]
        )
        expected = hmac.new(self.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return None, JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            return json.loads(raw), None
        except json.JSONDecodeError:
            return None, JSONResponse({"error": "body is not JSON"}, status_code=400)

    # --- HLD's public tracking endpoint ---

    async def _track(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["token"])
        if order is None:
            return JSONResponse({"success": False, "message": "Invalid tracking token"}, status_code=404)
        return JSONResponse(order.tracking())

    # --- faults, for tests ---

    async def _state(self, request: Request) -> Response:
        connections = [
            {"socket_id": c.socket_id, "channels": sorted(c.channels)} for c in self.clients.values()
        ]
        return JSONResponse({"connections": connections, "triggered": self.triggered})

    async def _drop(self, request: Request) -> Response:
        code = int((await _json(request)).get("code") or 1011)
        await self._close_all(code)
        return JSONResponse({"dropped": True})

    async def _outage(self, request: Request) -> Response:
        self.outage = bool((await _json(request)).get("on"))
        if self.outage:
            await self._close_all(1011)
        return JSONResponse({"outage": self.outage})

    async def _pongs(self, request: Request) -> Response:
        self.withhold_pongs = bool((await _json(request)).get("withhold"))
        return JSONResponse({"withhold": self.withhold_pongs})

    async def _error(self, request: Request) -> Response:
        """Send ``pusher:error`` with ``code`` to every client, then close with the same code."""
        code = int((await _json(request))["code"])
        for client in list(self.clients.values()):
            await client.send(
                {"event": "pusher:error", "data": {"code": code, "message": f"emulated {code}"}}
            )
        await self._close_all(code)
        return JSONResponse({"sent": code})

    async def _close_all(self, code: int) -> None:
        for client in list(self.clients.values()):
            self.clients.pop(client.socket_id, None)
            with contextlib.suppress(Exception):
                await client.websocket.close(code=code)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    loaded = json.loads(body) if body else {}
    return loaded if isinstance(loaded, dict) else {}
