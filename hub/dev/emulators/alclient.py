"""AL Services Client API emulator: login for a Bearer token, then order tracking.

The document gives no paths; the emulator serves the hub's defaults (``POST /login``,
``GET /orders/{order_id}/tracking``). Tokens are forgotten by the ``expire_tokens``
knob, after which tracking answers 401 until the client logs in again.
"""

from __future__ import annotations

import json
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import PICKUP, Scripted, Step, local

FLOWS = {
    "deliver": (
        Step("1", "Created"),
        Step("2", "Assigned"),
        Step("3", "Pickup Pending"),
        Step("4", "In Transit", moving=True),
        Step("5", "Out for Delivery", moving=True),
        Step("6", "Delivered"),
        Step("9", "Delivered (Final)"),
    ),
    "cancel": (Step("1", "Created"), Step("2", "Assigned"), Step("7", "Cancelled")),
}
INDIA_H = 5.5


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("alclient", FLOWS, step_s)

    async def login(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _json({"message": "The given data was invalid."}, 400)
        if not (isinstance(body, dict) and body.get("mobile") and body.get("password")):
            return _json({"message": "Invalid credentials."}, 401)
        token = secrets.token_hex(16)
        emulator.tokens.add(token)
        return _json({"flag": "Y", "access_token": token, "profile_name": "Hub", "id": 1, "status": 1})

    async def tracking(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in emulator.tokens:
            return _json({"message": "Unauthenticated."}, 401)
        order_id = request.path_params["order_id"]
        if not order_id.isdigit():
            return _json({"message": "Validation failed", "errors": {"order_id": ["must be integer"]}}, 422)
        return _json({"data": _order(emulator.shipment(order_id), emulator)})

    return create_app(
        emulator,
        [
            Route("/login", login, methods=["POST"]),
            Route("/orders/{order_id}/tracking", tracking, methods=["GET"]),
        ],
    )


def _order(shipment: Scripted, emulator: Emulator) -> dict[str, object]:
    reached = shipment.reached()
    lat, lng = shipment.position()
    history = []
    for r in reached:
        entry: dict[str, object] = {
            "status": int(r.step.code),
            "status_text": r.step.text,
            "created_at": local(r.at, INDIA_H).strftime("%Y-%m-%d %H:%M:%S"),
        }
        if r.step.moving:
            entry["location"] = {"lat": PICKUP[0], "lng": PICKUP[1]}
        history.append(entry)
    current = reached[-1]
    return {
        "order_id": int(shipment.ref),
        "customer_order_no": f"ORD-{shipment.ref}",
        "status": int(current.step.code),
        "status_text": current.step.text,
        "updated_at": local(current.at, INDIA_H).isoformat(timespec="seconds"),
        "status_history": history,
        "current_location": {"lat": lat, "lng": lng},
    }


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status, media_type="application/json")
