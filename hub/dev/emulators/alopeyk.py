"""Alopeyk emulator: ``GET /api/v2/orders/{id}`` with Bearer JWT and ``X-Requested-With``.

Answers carry the ``X-MinuteRateLimit-*``/``X-DailyRateLimit-*`` headers (100/minute and
43,200/day, counted per emulator) and 429 beyond them; errors are constants inside
HTTP 200 (``ORDER_NOT_FOUND_ERROR`` for ``missing...`` ids). Times carry ``+03:30``
except ``last_position_minimal.updated_at``, naive as in the document.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import DROPOFF, PICKUP, Reached, Scripted, Step, local

FLOWS = {
    "deliver": (
        Step("new", "created_at"),
        Step("searching", "launched_at"),
        Step("accepted", "accepted_at", moving=True),
        Step("picking", "picking_at"),
        Step("delivering", "delivering_at", moving=True),
        Step("delivered", "delivered_at"),
        Step("finished", "finished_at"),
    ),
    "cancel": (Step("new", "created_at"), Step("searching", "launched_at"), Step("cancelled", "stopped_at")),
}
TEHRAN_H = 3.5
LIMITS = (("Minute", 100, 60), ("Daily", 43200, 86400))


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("alopeyk", FLOWS, step_s)

    async def order(request: Request) -> Response:
        headers = _rate_headers(emulator)
        if any(int(headers[f"X-{name}RateLimit-Remaining"]) < 0 for name, _, _ in LIMITS):
            return Response(b'{"status":"fail","message":"LIMIT_EXCEEDED_ERROR"}', 429, {"Retry-After": "60"})
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _json({"status": "fail", "message": "FORBIDDEN_ERROR", "object": {}}, headers, 401)
        if request.headers.get("x-requested-with") != "XMLHttpRequest":
            return _json({"status": "fail", "message": "INVALID_REQUEST_ERROR", "object": {}}, headers)
        ref = request.path_params["order_id"]
        if ref.startswith("missing"):
            return _json({"status": "fail", "message": "ORDER_NOT_FOUND_ERROR", "object": {}}, headers)
        return _json(
            {"status": "success", "message": None, "object": _order(emulator.shipment(ref))}, headers
        )

    return create_app(emulator, [Route("/api/v2/orders/{order_id}", order, methods=["GET"])])


def _rate_headers(emulator: Emulator) -> dict[str, str]:
    times_s = emulator.knobs.stats()["times_s"]
    now_s = time.time()
    headers = {}
    # The document's identifier: "[IP]:[YYYY]-[MM]-[DD]-[hh]-[mm]", in Tehran time.
    identifier = f"127.0.0.1:{local(datetime.fromtimestamp(now_s, UTC), TEHRAN_H):%Y-%m-%d-%H-%M}"
    for name, limit, window_s in LIMITS:
        used = sum(1 for t in times_s if t > now_s - window_s)
        headers[f"X-{name}RateLimit-Identifier"] = identifier
        headers[f"X-{name}RateLimit-Limit"] = str(limit)
        headers[f"X-{name}RateLimit-Remaining"] = str(limit - used)
    return headers


def _order(shipment: Scripted) -> dict[str, object]:
    reached = shipment.reached()
    current = reached[-1]
    order: dict[str, object] = {
        "id": int(shipment.ref) if shipment.ref.isdigit() else shipment.ref,
        "invoice_number": f"INV{shipment.ref}",
        "order_token": f"tok{shipment.ref}",
        "status": current.step.code,
        "transport_type": "motorbike",
        "city": "tehran",
        **{step.text: None for step in shipment.flow},
        "updated_at": _t(current),
        "addresses": _addresses(shipment, reached),
    }
    for r in reached:
        order[r.step.text] = _t(r)
    if any(r.step.moving for r in reached) and current.step.code not in ("delivered", "finished"):
        lat, lng = shipment.position()
        naive = local(current.at, TEHRAN_H).strftime("%Y-%m-%d %H:%M:%S")
        order["last_position_minimal"] = {"lat": lat, "lng": lng, "updated_at": naive}
        order["courier"] = {"id": 3135, "firstname": "Ali", "lastname": "Rezaei", "phone": "09120000000"}
    return order


def _addresses(shipment: Scripted, reached: list[Reached]) -> list[dict[str, object]]:
    times = {r.step.code: _t(r) for r in reached}
    stops = [
        ("origin", PICKUP, times.get("picking"), times.get("delivering")),
        ("destination", DROPOFF, times.get("delivered"), times.get("delivered")),
    ]
    return [
        {
            "id": 28722 + priority,
            "type": kind,
            "priority": priority,
            "lat": str(where[0]),
            "lng": str(where[1]),
            "status": "handled" if handled else "arrived" if arrived else "pending",
            "arrived_at": arrived or "",
            "handled_at": handled or "",
        }
        for priority, (kind, where, arrived, handled) in enumerate(stops)
    ]


def _t(reached: Reached) -> str:
    return local(reached.at, TEHRAN_H).isoformat(timespec="seconds")


def _json(body: object, headers: dict[str, str], status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status, headers, media_type="application/json")
