"""The emulator app shared by every provider: scripted shipments, fault knobs, request log.

A provider module supplies its status flow and its routes; this module adds the admin
routes every emulator has:

``POST /_emulator/faults``    set fault knobs (JSON, see :class:`~hub.emulators.faults.Faults`)
``POST /_emulator/shipments`` script a shipment: ``{"ref": "...", "flow": "cancel", "step_s": 2}``
``GET  /_emulator/stats``     the request log: count, arrival times, faults served
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.dev.emulators import faults
from hub.dev.emulators.timeline import Scripted, Step

Handler = Callable[[Request], Awaitable[Response]]

DEFAULT_STEP_S = 5.0


class Emulator:
    """One provider's world: its shipments (created when first asked about) and its knobs."""

    def __init__(
        self,
        provider: str,
        flows: dict[str, tuple[Step, ...]],
        step_s: float = DEFAULT_STEP_S,
        content_type: str = "application/json",
        refused: Callable[[Request], Response] | None = None,
    ) -> None:
        self.provider = provider
        self.refused = refused  # the provider's own way of refusing credentials (else a 401)
        self.flows = flows
        self.step_s = step_s
        self.content_type = content_type
        self.knobs = faults.Knobs()
        self.shipments: dict[str, Scripted] = {}
        self.tokens: set[str] = set()
        self.lock = threading.Lock()

    def shipment(self, ref: str) -> Scripted:
        with self.lock:
            if ref not in self.shipments:
                self.shipments[ref] = Scripted(ref, self.flows["deliver"], self.step_s, time.time())
            return self.shipments[ref]

    def script(self, ref: str, flow: str = "deliver", step_s: float | None = None) -> Scripted:
        if flow not in self.flows:
            raise ValueError(f"unknown flow {flow!r}; expected one of {sorted(self.flows)}")
        scripted = Scripted(ref, self.flows[flow], step_s or self.step_s, time.time())
        with self.lock:
            self.shipments[ref] = scripted
        return scripted

    def guard(self, handler: Handler) -> Handler:
        """Count the request and serve the fault it draws before the real answer."""

        async def guarded(request: Request) -> Response:
            fault, knobs = self.knobs.arrive()
            if fault is None and knobs.expire_tokens:
                self._expire_tokens()
            broken = await faults.apply(fault, knobs, self.content_type)
            if fault == "unauthorized" and self.refused is not None:
                broken = self.refused(request)
            if fault == "lone_surrogate":
                return faults.with_lone_surrogate(await handler(request), knobs.surrogate_field)
            return broken if broken is not None else await handler(request)

        return guarded

    def _expire_tokens(self) -> None:
        with self.knobs.lock:
            if self.knobs.faults.expire_tokens <= 0:
                return
            self.knobs.faults.expire_tokens -= 1
        self.tokens.clear()


def create_app(emulator: Emulator, routes: Sequence[Route]) -> Starlette:
    async def set_faults(request: Request) -> Response:
        try:
            changes = json.loads(await request.body())
            with emulator.knobs.lock:
                emulator.knobs.faults.update(changes)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": "bad_fault", "message": str(exc)}, 400)
        return JSONResponse({"faults": emulator.knobs.faults.__dict__})

    async def script(request: Request) -> Response:
        try:
            spec: dict[str, Any] = json.loads(await request.body())
            scripted = emulator.script(str(spec["ref"]), spec.get("flow", "deliver"), spec.get("step_s"))
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": "bad_shipment", "message": str(exc)}, 400)
        return JSONResponse({"ref": scripted.ref, "steps": [s.code for s in scripted.flow]}, 201)

    async def stats(request: Request) -> Response:
        return JSONResponse(emulator.knobs.stats())

    admin = [
        Route("/_emulator/faults", set_faults, methods=["POST"]),
        Route("/_emulator/shipments", script, methods=["POST"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
    ]
    guarded = [Route(r.path, emulator.guard(r.endpoint), methods=r.methods) for r in routes]
    app = Starlette(routes=[*admin, *guarded])
    app.state.emulator = emulator
    return app
