"""ALOD emulator: the single merchant URL, ``authkey`` header, base64-wrapped JSON answers.

Errors come as ``status: error`` inside HTTP 200, base64 like everything else, in the
document's ``errors: [{param, msg, value}]`` syntax: a refused access key (no ``authkey``
header, or the ``unauthorized`` knob) names ``param: authkey``.
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
    # booking_status says delivered one step before the trace does
    "delivered_first": (
        Step("Shipment Submitted", "placed"),
        Step("Reached Receiver", "placed"),
        Step("delivered", "delivered"),
        Step("Delivered", "delivered"),
    ),
    # no driver accepted in time: the booking times out with an empty trace
    "timeout": (Step("timeout", "timeout"),),
}
# Steps that change booking_status only: the trace gets no entry for them.
BOOKING_ONLY = frozenset({"cancelled", "delivered", "timeout"})


def app(step_s: float = DEFAULT_STEP_S) -> Starlette:
    emulator = Emulator("alod", FLOWS, step_s, content_type="text/plain", refused=_refused)

    async def merchant(request: Request) -> Response:
        if not request.headers.get("authkey"):
            return _refused(request)
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
        if r.step.code not in BOOKING_ONLY
    ]
    return {
        "status": "success",
        "booking_status": reached[-1].step.text,
        "booking_type": "alod",
        "booking_status_details": details,
        "_method_name": "getTrackingDetails",
        "_model_name": "business_booking",
    }


def _refused(request: Request) -> Response:
    """ALOD's answer to a wrong access key: an HTTP 200 naming the ``authkey`` param (and its value)."""
    value = request.headers.get("authkey", "")
    return _wrapped(
        {"status": "error", "errors": [{"param": "authkey", "msg": "Invalid access key", "value": value}]}
    )


def _wrapped(body: object) -> Response:
    return Response(base64.b64encode(json.dumps(body).encode()), 200, media_type="text/plain")
