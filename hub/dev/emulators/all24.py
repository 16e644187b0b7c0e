"""all24 emulator: ``GET /v1/tracking/orders`` with Basic auth, history newest first.

A third-party lookup (``tracking_number`` + ``customer_id``) is its own shipment, scripted
under ``<customer_id>:<tracking_number>``; its answer is keyed by, and carries, all24's own
number (``hs_order_ref``), as a real third-party lookup does.

Times are written as all24 writes them: ``event_time`` naive Bangkok time, the order date
with its ``+07:00``.
"""

from __future__ import annotations

import json
import zlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import Scripted, Step, local

FLOWS = {
    "deliver": (
        Step("050000", "Order received"),
        Step("100000", "Goods received"),
        Step("200000", "Picked up", moving=True),
        Step("300000", "Goods arrived"),
        Step("500000", "Delivery complete"),
    ),
    "cancel": (Step("050000", "Order received"), Step("401101", "Order cancelled (by carrier)")),
}
BANGKOK_H = 7


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("all24", FLOWS, step_s)

    async def track(request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Basic "):
            return _json({"response_code": 401, "error_codes": []}, 401)
        params = request.query_params
        number, customer_id = params.get("tracking_number"), params.get("customer_id")
        ref = params.get("all24_tracking_number") or (
            f"{customer_id}:{number}" if number and customer_id else None
        )
        if not ref:
            return _json({"response_code": 400, "error_codes": [1000]}, 400)
        if ref.rpartition(":")[2].startswith("missing"):
            return _json({"response_code": 400, "error_codes": [1350]}, 400)
        order = _order(emulator.shipment(ref))
        return _json({str(order["hs_order_ref"]): order, "response_code": 200, "error_codes": []})

    return create_app(emulator, [Route("/v1/tracking/orders", track, methods=["GET"])])


def _order(shipment: Scripted) -> dict[str, object]:
    history = [
        {
            "event_time": local(r.at, BANGKOK_H).strftime("%Y-%m-%d %H:%M:%S"),
            "event_name": r.step.text,
            "event_code": r.step.code,
            "location_ref": "",
            "location": {"location_name": "", "service_area": "Bangkok", "postcode": ""},
        }
        for r in reversed(shipment.reached())
    ]
    customer_id, _, number = shipment.ref.rpartition(":")
    return {
        "origin_order_date": local(shipment.time_of(0), BANGKOK_H).isoformat(timespec="seconds"),
        "order_ref_id": f"shop-{number}",
        # A third party's number (customer_id:number) is answered with all24's own number.
        "hs_order_ref": f"HS{zlib.crc32(shipment.ref.encode()):08X}" if customer_id else number,
        "history": history,
    }


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status, media_type="application/json")
