"""ALOD emulator: the single merchant URL, ``authkey`` header, base64-wrapped JSON answers.

Errors come as ``status: error`` inside HTTP 200, base64 like everything else.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.dev.emulators.app import DEFAULT_STEP_S, Emulator, create_app
from hub.dev.emulators.timeline import Scripted, Step

FLOWS = {
    "deliver": (
        Step("Shipment Submitted", "placed"),
        Step("Sent to Carrier", "placed"),
        Step("Arrived to Collect the Shipment", "placed", moving=True),
        Step("Reached Receiver", "placed"),
        Step("Delivered", "delivered"),
    ),
    "cancel": (Step("Shipment Submitted", "placed"), Step("cancelled", "cancelled")),
}


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("alod", FLOWS, step_s, content_type="text/plain")

    async def merchant(request: Request) -> Response:
        if not request.headers.get("authkey"):
            return _wrapped({"status": "error", "message": "Invalid authkey"})
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode("latin-1")).items()}
        if form.get("Method") != "getTrackingDetails" or form.get("Model") != "business_booking":
            return _wrapped({"status": "error", "message": "Unknown Method/Model"})
        booking_id = str(form.get("booking_id") or "")
        if not booking_id or booking_id.startswith("missing"):
            return _wrapped(
                {"status": "error", "errors": [{"param": "booking_id", "msg": "Invalid booking id"}]}
            )
        return _wrapped(_tracking(emulator.shipment(booking_id)))

    return create_app(emulator, [Route("/", merchant, methods=["POST"])])


def _tracking(shipment: Scripted) -> dict[str, object]:
    reached = shipment.reached()
    details = [
        {"_id": f"{r.index:024x}", "status": r.step.code, "created": r.at.isoformat(timespec="milliseconds")}
        for r in reversed(reached)
        if r.step.code != "cancelled"
    ]
    return {
        "status": "success",
        "booking_status": reached[-1].step.text,
        "booking_type": "alod",
        "booking_status_details": details,
        "_method_name": "getTrackingDetails",
        "_model_name": "business_booking",
    }


def _wrapped(body: object) -> Response:
    return Response(base64.b64encode(json.dumps(body).encode()), 200, media_type="text/plain")
