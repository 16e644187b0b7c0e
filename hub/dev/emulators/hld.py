"""HLD emulator: public ``GET /api/v1/track/{tracking_token}``, no authentication.

Serves ``real_time_updates`` and the executive's moving position as HLD's tracking
example does; unknown tokens (``missing...``) get ``success: false``.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import PICKUP, Scripted, Step

FLOWS = {
    "deliver": (
        Step("1", "OrderPlaced"),
        Step("13", "FindingExecutive"),
        Step("2", "ExecutiveAssigned"),
        Step("24", "ExecutiveComing", moving=True),
        Step("3", "PickedUp", moving=True),
        Step("25", "On the Way", moving=True),
        Step("4", "Delivered"),
        Step("11", "Completed"),
    ),
    "cancel": (Step("1", "OrderPlaced"), Step("13", "FindingExecutive"), Step("17", "CustomerCancelled")),
}
_STAMPED = {"1": "created_at", "2": "assigned_at", "3": "pickup_completed_at", "4": "completed_at"}


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("hld", FLOWS, step_s)

    async def track(request: Request) -> Response:
        token = request.path_params["token"]
        if token.startswith("missing"):
            return _json({"success": False, "message": "Invalid tracking token"}, 404)
        return _json({"success": True, "data": _tracking(emulator.shipment(token))})

    return create_app(emulator, [Route("/api/v1/track/{token}", track, methods=["GET"])])


def _tracking(shipment: Scripted) -> dict[str, object]:
    reached = shipment.reached()
    current = reached[-1]
    data: dict[str, object] = {
        "order_id": f"HLD{zlib.crc32(shipment.ref.encode()):011d}",
        "status": int(current.step.code),
        "status_text": current.step.text,
        "delivery_eta": _z(shipment.time_of(len(shipment.flow)) + timedelta(minutes=5)),
        **{field: None for field in _STAMPED.values()},
        "real_time_updates": [
            {
                "status": int(r.step.code),
                "timestamp": _z(r.at),
                "location": {"lat": PICKUP[0], "lng": PICKUP[1]},
            }
            for r in reached
        ],
    }
    for r in reached:
        if r.step.code in _STAMPED:
            data[_STAMPED[r.step.code]] = _z(r.at)
    if any(r.step.moving for r in reached):
        lat, lng = shipment.position()
        data["executive"] = {
            "name": "Rajesh Kumar",
            "mobile": "9876543212",
            "current_location": {"lat": lat, "lng": lng},
        }
    return data


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status, media_type="application/json")
