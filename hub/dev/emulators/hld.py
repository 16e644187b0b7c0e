"""HLD emulator: public ``GET /api/v1/track/{tracking_token}`` and the paged order list.

The order list (``GET /api/v1/web-client/orders?per_page=&page=``, Bearer token) lists every
shipment the emulator knows, newest first, in the document's shape: statuses as words,
``created_at`` as ``"04 Apr, 2026 10:30 am"`` in IST.

Serves ``real_time_updates`` and the executive's moving position as HLD's tracking
example does; unknown tokens (``missing...``) get ``success: false``.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import PICKUP, Scripted, Step, local

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
# The order list's words for each step (the document's example says "Delivered").
LIST_WORDS = {
    "1": "Order Placed",
    "13": "Finding Executive",
    "2": "Executive Assigned",
    "24": "Executive Coming",
    "3": "Picked Up",
    "25": "On the Way",
    "4": "Delivered",
    "11": "Completed",
    "17": "Cancelled",
}
IST_OFFSET_H = 5.5
_STAMPED = {"1": "created_at", "2": "assigned_at", "3": "pickup_completed_at", "4": "completed_at"}


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = HldEmulator(step_s)

    async def track(request: Request) -> Response:
        token = request.path_params["token"]
        if token.startswith("missing"):
            return _json({"success": False, "message": "Invalid tracking token"}, 404)
        return _json({"success": True, "data": _tracking(emulator.shipment(token))})

    async def orders(request: Request) -> Response:
        emulator.calls["orders"] += 1
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _json({"message": "Unauthenticated."}, 401)
        try:
            per_page = int(request.query_params.get("per_page", "3"))
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            return _json(
                {"success": False, "message": "Validation failed", "error_code": "VALIDATION_FAILED"}, 422
            )
        if not (1 <= per_page <= 500 and page >= 1):
            return _json(
                {"success": False, "message": "Validation failed", "error_code": "VALIDATION_FAILED"}, 422
            )
        return _json(order_list(emulator, str(request.base_url).rstrip("/"), per_page, page))

    async def counted_track(request: Request) -> Response:
        emulator.calls["track"] += 1
        return await track(request)

    return create_app(
        emulator,
        [
            Route("/api/v1/track/{token}", counted_track, methods=["GET"]),
            Route("/api/v1/web-client/orders", orders, methods=["GET"]),
        ],
    )


class HldEmulator(Emulator):
    """Counts its calls by kind, so a test or a benchmark can weigh bulk against per-order."""

    def __init__(self, step_s: float) -> None:
        super().__init__("hld", FLOWS, step_s)
        self.calls: Counter[str] = Counter()


def order_id(token: str) -> str:
    return f"HLD{zlib.crc32(token.encode()):011d}"


def order_list(emulator: Emulator, base_url: str, per_page: int, page: int) -> dict[str, object]:
    """HLD's documented order list: newest first, statuses as words, times in IST without a zone."""
    with emulator.lock:
        known = sorted(emulator.shipments.values(), key=lambda s: (s.started_s, s.ref), reverse=True)
    total = len(known)
    last_page = max(1, -(-total // per_page))
    rows = known[(page - 1) * per_page : page * per_page]
    link = f"{base_url}/api/v1/web-client/orders?per_page={per_page}&page="
    return {
        "data": [_order_row(shipment) for shipment in rows],
        "links": {
            "first": f"{link}1",
            "last": f"{link}{last_page}",
            "prev": f"{link}{page - 1}" if page > 1 else None,
            "next": f"{link}{page + 1}" if page < last_page else None,
        },
        "meta": {
            "current_page": page,
            "from": (page - 1) * per_page + 1 if rows else None,
            "last_page": last_page,
            "per_page": per_page,
            "to": (page - 1) * per_page + len(rows) if rows else None,
            "total": total,
        },
    }


def _order_row(shipment: Scripted) -> dict[str, object]:
    current = shipment.current().step
    created = local(shipment.time_of(0), IST_OFFSET_H)
    return {
        "id": order_id(shipment.ref),
        "client_name": "Sunrise Jewellers",
        "customer_order_no": f"ORD-{shipment.ref}",
        "product_name": "Gold Necklace Set",
        "order_type": 1,
        "status": LIST_WORDS.get(current.code, current.text),
        "product_value": 45000.00,
        "assigned_to": "Rajesh Kumar",
        "created_at": created.strftime("%d %b, %Y %I:%M %p").replace("AM", "am").replace("PM", "pm"),
    }


def _tracking(shipment: Scripted) -> dict[str, object]:
    reached = shipment.reached()
    current = reached[-1]
    data: dict[str, object] = {
        "order_id": order_id(shipment.ref),
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
